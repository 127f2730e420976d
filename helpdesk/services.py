"""Writes of tenancy objects: one function per use case, atomic."""

from __future__ import annotations

import json

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q

from helpdesk import invitations, members, redaction
from helpdesk.audit import audit_record
from helpdesk.auth import Principal, generate_token_key, hash_token_key
from helpdesk.erasure import BATCH, mask_rows
from helpdesk.models import ApiToken, IdempotencyKey, Membership, OutboxEvent, Role, Team, TeamMember, Tenant
from helpdesk.tenancy import tenant_context

TOKEN_PREFIX_LENGTH = 10


@transaction.atomic
def tenant_create(*, slug: str, name: str, timezone: str = "UTC") -> Tenant:
    tenant = Tenant(slug=slug, name=name, timezone=timezone)
    tenant.full_clean()
    tenant.save()
    return tenant


def api_token_create(*, tenant: Tenant, role: str = Role.AGENT, label: str = "") -> tuple[ApiToken, str]:
    """Returns the token row and the key. The key is shown once and never stored."""
    key = generate_token_key()
    with tenant_context(tenant):
        token = ApiToken.objects.create(
            tenant=tenant,
            role=role,
            label=label,
            prefix=key[:TOKEN_PREFIX_LENGTH],
            key_hash=hash_token_key(key),
        )
    return token, key


def membership_create(
    *,
    tenant: Tenant,
    username: str,
    email: str = "",
    password: str | None = None,
    role: str = Role.AGENT,
    tier: int = 1,
    skills: list[str] | None = None,
    capacity: int = 20,
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """Finds or creates the user (users are global) and gives them a seat in the tenant. For operators and
    fixtures (a person who works for two tenants); the doors people use add members with member_add, which
    refuses an existing username."""
    user_model = get_user_model()
    with tenant_context(tenant):
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": email, "first_name": first_name, "last_name": last_name}
        )
        # An existing user (a seat in another tenant) keeps their credentials: giving someone a seat
        # here must never be a way to reset a password they use elsewhere.
        if created:
            user.set_password(password) if password else user.set_unusable_password()
            user.save(update_fields=["password"])
        return _seat(tenant, user, role=role, tier=tier, skills=skills or [], capacity=capacity)


def _seat(tenant: Tenant, user, **fields) -> Membership:
    membership = Membership(tenant=tenant, user=user, **fields)
    members.clean_seat(membership)
    membership.save()
    return membership


# --- members: the use cases of the API, the admin and create_member ---------------------------------

# What the audit trail shows of a member (never the password).
AUDITED = ("username", "email", "name", "role", "tier", "skills", "capacity", "available", "teams", "active")


def member_facts(membership: Membership) -> dict:
    user = membership.user
    facts = {
        "username": user.get_username(),
        "email": user.email,
        "name": user.get_full_name(),
        "teams": sorted(TeamMember.objects.filter(membership=membership).values_list("team_id", flat=True)),
    }
    return {name: facts[name] if name in facts else getattr(membership, name) for name in AUDITED}


def _new_user(*, username: str, email: str, name: str, password: str | None):
    """The user of a new member, strictly new: a username that another request took in the meantime is
    the same 409 as one taken before (no get_or_create, which would hand us their user)."""
    first, last = members.split_name(name)
    try:
        with transaction.atomic():
            return get_user_model().objects.create_user(
                username=username, email=email, password=password or None, first_name=first, last_name=last
            )
    except IntegrityError:
        raise members.MemberError(
            {"username": [members.ERR_USERNAME_TAKEN]}, code="username_taken", status=409
        ) from None


@transaction.atomic
def member_add(
    *,
    tenant: Tenant,
    actor: Principal | None,
    username: str,
    email: str = "",
    name: str = "",
    password: str | None = None,
    role: str = Role.AGENT,
    tier: int = 1,
    skills: list[str] | None = None,
    capacity: int = 20,
    available: bool = True,
    teams: list[Team] = (),
) -> Membership:
    """A new person and their seat. With a password they can sign in at once; without one they are
    invited: an outbox row in this transaction, e-mailed after commit with a link to set a password."""
    username = members.clean_username(username)
    email = members.clean_email(email)
    members.check_invitable(password=password, email=email)
    if password:
        members.check_password(password, username=username, email=email, name=name)
    with tenant_context(tenant):
        fields = {"role": role, "tier": tier, "skills": list(dict.fromkeys(skills or [])), "capacity": capacity}
        user = _new_user(username=username, email=email, name=name, password=password)
        membership = _seat(tenant, user, available=available, **fields)
        membership.teams.set(teams, through_defaults={"tenant": tenant})
        audit_record(
            tenant_id=tenant.pk,
            kind="member.added",
            actor=actor,
            object_type="member",
            object_id=membership.pk,
            after={**member_facts(membership), "invited": not password},
        )
        if not password:
            invitations.invite(membership=membership)
    return membership


SEAT_FIELDS = ("role", "tier", "skills", "capacity", "available", "active")


@transaction.atomic
def member_update(*, membership: Membership, actor: Principal | None, **changes) -> Membership:
    """Changes a seat (role, tier, skills, capacity, available, active, teams) and the person's name and
    e-mail. Refused: demoting or deactivating the last admin (409), renaming a person with seats in other
    tenants (409). Audited with what changed."""
    unknown = set(changes) - {*SEAT_FIELDS, *members.PERSON_FIELDS, "teams"}
    if unknown:
        raise TypeError(f"member_update() got unexpected fields: {', '.join(sorted(unknown))}")
    before = member_facts(membership)
    members.check_not_last_admin(
        membership,
        role=changes.get("role", membership.role),
        active=changes.get("active", membership.active),
        lock=True,
    )
    members.check_person_editable(membership, changes)
    if "skills" in changes:
        changes["skills"] = list(dict.fromkeys(changes["skills"]))
    for name in SEAT_FIELDS:
        if name in changes:
            setattr(membership, name, changes[name])
    members.clean_seat(membership)
    membership.save()
    _person_update(membership.user, changes)
    if "teams" in changes:
        membership.teams.set(changes["teams"], through_defaults={"tenant": membership.tenant})
    after = member_facts(membership)
    changed = [name for name in AUDITED if before[name] != after[name]]
    if changed:
        audit_record(
            tenant_id=membership.tenant_id,
            kind="member.deactivated" if changed == ["active"] and not membership.active else "member.updated",
            actor=actor,
            object_type="member",
            object_id=membership.pk,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return membership


def _person_update(user, changes: dict) -> None:
    fields = []
    if "email" in changes:
        user.email = members.clean_email(changes["email"])
        fields.append("email")
    if "name" in changes:
        user.first_name, user.last_name = members.split_name(changes["name"])
        fields += ["first_name", "last_name"]
    if fields:
        user.save(update_fields=fields)


def member_deactivate(*, membership: Membership, actor: Principal | None) -> Membership:
    """DELETE of a member: the seat stays (tickets, events and escalations keep showing who did what) but
    is switched off — no sign-in to this tenant, no routed work, no notifications. Idempotent."""
    return member_update(membership=membership, actor=actor, active=False)


def membership_sign_in_unlock(*, memberships: list[Membership]) -> int:
    """Forgets the failed sign-ins recorded for these members' usernames (django-axes), which lifts a
    lockout of the username. Those failures no longer count against the addresses they came from either:
    axes keeps one record per username and address. Returns the number of records removed."""
    usernames = {membership.user.get_username() for membership in memberships}
    return sum(axes_reset(username=username) for username in sorted(usernames))


def team_create(
    *,
    tenant: Tenant,
    name: str,
    skills: list[str] | None = None,
    tier: int = 1,
    members: list[Membership] = (),
) -> Team:
    with tenant_context(tenant):
        team = Team.objects.create(tenant=tenant, name=name, skills=skills or [], tier=tier)
        TeamMember.objects.bulk_create(
            [TeamMember(tenant=tenant, team=team, membership=membership) for membership in members]
        )
    return team


@transaction.atomic
def team_save(*, team: Team, members: list[Membership] | None = None) -> Team:
    """A team created or changed (the admin's form set its fields); with `members`, exactly those seats are
    its members afterwards."""
    team.full_clean(exclude=["tenant"], validate_unique=False)
    team.save()
    if members is not None:
        team.members.set(members, through_defaults={"tenant": team.tenant})
    return team


@transaction.atomic
def tenant_update(*, tenant: Tenant, **changes) -> Tenant:
    """The tenant's own name or time zone (its slug never changes: tokens and URLs name it)."""
    for name, value in changes.items():
        setattr(tenant, name, value)
    tenant.full_clean(exclude=["slug"])
    tenant.save()
    return tenant


def api_tokens_revoke(*, tokens, at) -> int:
    """Revokes the tokens not revoked yet; returns how many. A revoked token answers 401 from then on."""
    return tokens.filter(revoked_at=None).update(revoked_at=at)


def api_token_relabel(*, token: ApiToken, label: str) -> ApiToken:
    token.label = label
    token.save(update_fields=["label"])
    return token


# --- a customer's erasure: the copies in this layer (workflows.customer_erase lists them all) ---------------


def outbox_redact(*, ticket_ids: list[int], address: str, redactor: redaction.Redactor) -> list[int]:
    """Outbox payloads about the customer's tickets (their `ticket_context`: subject, name, address; a
    milestone's text) or addressed to them, masked. Returns the ids of those events (their deliveries are
    the next copies)."""
    events = OutboxEvent.objects.filter(Q(payload__ticket__in=ticket_ids) | Q(payload__to__iexact=address))
    event_ids = list(events.values_list("pk", flat=True))
    mask_rows(OutboxEvent.objects.filter(pk__in=event_ids), ("payload",), redactor)
    return event_ids


def idempotency_redact(*, redactor: redaction.Redactor) -> int:
    """Stored responses of Idempotency-Key POSTs (replayed for 24 h) carry what they created: a ticket's
    subject, description and requester. Masked, so a replay answers with the erased record."""
    changed = []
    for key in IdempotencyKey.objects.filter(content_type__startswith="application/json").only("response_body"):
        try:
            body = json.loads(bytes(key.response_body))
        except ValueError:
            continue
        masked = redactor.json(body)
        if masked != body:
            key.response_body = json.dumps(masked, ensure_ascii=False, separators=(",", ":")).encode()
            changed.append(key)
    IdempotencyKey.objects.bulk_update(changed, ["response_body"], batch_size=BATCH)
    return len(changed)
