"""The tenant-aware Django admin: a tenant's managers edit their own tenant's data, and nothing else.

Authority comes from the request's principal (the user's active Membership, resolved by
helpdesk.middleware.TenantMiddleware), never from Django's global is_staff/permission flags: users are
global, a seat is per tenant. The whole request already runs inside `tenant_context`, so every
queryset (change lists, object lookups, FK/M2M choices, autocomplete) comes from the scoped default
managers and sees one tenant only; row-level security backs that up in PostgreSQL. Another tenant's
object answers 404, exactly like a missing one.

The URLconf mounts `tenant_admin_site` (not django.contrib.admin.site, which keeps the global User
and Group admins and must stay unmounted).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from helpdesk import members, workflows
from helpdesk.auth import Principal
from helpdesk.fields import StorableJSONField
from helpdesk.members import MemberError
from helpdesk.models import ROLE_RANK, ApiToken, AuditEvent, Membership, Role, Team, TeamMember, Tenant
from helpdesk.tenancy import current_tenant, current_tenant_or_none

ERR_NOT_MANAGER = "The admin is open to the managers and admins of a tenant."
MSG_TOKEN_KEY = "New API key for “{label}”: {key} — copy it now, it is shown only this once."
MSG_TOKENS_REVOKED = "{count} token(s) revoked."
MSG_UNLOCKED = "Sign-in unlocked for {names}: their failed attempts are forgotten."
MSG_NOBODY_TO_UNLOCK = "None of the selected members is yours to unlock."


def admin_principal(request) -> Principal | None:
    """The request's principal if it may act in the admin at all: a logged-in member (not an API
    token), whose request really runs inside its own tenant. Fails closed if the middleware did not run."""
    principal: Principal | None = getattr(request, "principal", None)
    if principal is None or principal.membership is None or not request.user.is_active:
        return None
    active = current_tenant_or_none()
    if active is None or active.pk != principal.tenant.pk:
        return None
    return principal


def principal_has_role(request, role: str) -> bool:
    principal = admin_principal(request)
    return principal is not None and principal.has_role(role)


def role_choices_up_to(role: str) -> list[tuple[str, str]]:
    """The roles someone of `role` may hand out: their own rank and below (a manager can't make an admin)."""
    return [(value, label) for value, label in Role.choices if ROLE_RANK[value] <= ROLE_RANK[role]]


def adopt(target, source) -> None:
    """Copy a row saved by a service onto the instance the admin holds, so the admin's log entry and
    redirect refer to the stored object (the services create their own instances)."""
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class TenantAdminSite(admin.AdminSite):
    site_header = "Helpdesk admin"
    site_title = "Helpdesk admin"
    index_title = "Tenant administration"

    def has_permission(self, request) -> bool:
        return principal_has_role(request, Role.MANAGER)

    def login(self, request, extra_context=None):
        """No login form of its own (Django's would demand is_staff): the app's login page signs
        people in, and a signed-in member without the authority is refused outright."""
        if self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        if request.user.is_authenticated:
            raise PermissionDenied(ERR_NOT_MANAGER)
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        # The app's LoginView validates `next` (same host only) before following it.
        return redirect_to_login(next_url, settings.LOGIN_URL)

    def each_context(self, request):
        context = super().each_context(request)
        principal = admin_principal(request)
        if principal is not None:
            context["site_header"] = f"{principal.tenant.name} · {self.site_header}"
        return context


tenant_admin_site = TenantAdminSite(name="admin")


# --- building blocks --------------------------------------------------------------------------


class RoleGatedAdmin:
    """Permissions from the principal's role instead of Django's per-user permission table.

    `allow_*` say what the model admits at all (audit rows are never changed, most rows are never
    deleted: tickets and their history refer to them); `required_role` says who may touch it."""

    required_role: str = Role.MANAGER
    allow_add = True
    # Every JSON column the admin edits (rule conditions and notify, policy scope and targets, calendar
    # hours, channel recipients, an escalation's summary, …) through the field that refuses what the API's
    # parser refuses: NUL, lone surrogates, nesting past JSON_MAX_DEPTH.
    formfield_overrides = {models.JSONField: {"form_class": StorableJSONField}}
    allow_change = True
    allow_delete = False

    def _allowed(self, request) -> bool:
        return principal_has_role(request, self.required_role)

    def has_module_permission(self, request) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request, obj=None) -> bool:
        return self.allow_add and self._allowed(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.allow_change and self._allowed(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.allow_delete and self._allowed(request)


class NotFoundIs404:
    """Django's admin redirects to the index with "… doesn't exist" for an id outside the queryset;
    we answer 404 like the rest of the app, the same for another tenant's object as for a missing one."""

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} matches the given query.")


class TenantModelForm(forms.ModelForm):
    """Stamps the current tenant on new rows before validation, and validates with it: `tenant` is not
    editable, so Django would leave it out of unique checks and a duplicate (tenant, name) would reach
    the database as an IntegrityError instead of a form error."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and self.instance.tenant_id is None:
            self.instance.tenant = current_tenant()

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        exclude.discard("tenant")
        return exclude


class TenantScopedAdmin(RoleGatedAdmin, NotFoundIs404, admin.ModelAdmin):
    """Base of every tenant model's admin. get_queryset is Django's: the model's default manager, which
    is tenant-scoped (helpdesk.tenancy.TenantManager) and raises outside a tenant — never override it
    with `unscoped`."""

    form = TenantModelForm
    # Fields the admin never shows. Django's change list filters by any field of the model named in the
    # query string (?key_hash__startswith=ab lists the tokens whose hash starts so): a prefix oracle that
    # spells out a hidden value one character at a time. Lookups on these answer 400 instead.
    secret_fields: tuple[str, ...] = ()

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split("__", 1)[0] in self.secret_fields:
            return False
        return super().lookup_allowed(lookup, value, request)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            if inline_form.instance._state.adding:
                inline_form.instance.tenant = request.principal.tenant
        formset.save()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Membership and "queryset" not in kwargs:
            # Membership's label shows the username: one join instead of a query per option.
            kwargs["queryset"] = Membership.objects.select_related("user")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and db_field.choices == Role.choices:
            kwargs["choices"] = role_choices_up_to(request.principal.role)
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class TenantInline(RoleGatedAdmin, admin.TabularInline):
    form = TenantModelForm
    extra = 1

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        for field in formset.form.base_fields.values():
            if isinstance(field, forms.ModelChoiceField):
                # Read the choices once for all the rows: a ModelChoiceField queries them again for each row's select.
                field.choices = list(field.choices)
                getattr(field.widget, "widget", field.widget).choices = field.choices  # inside the admin's wrapper
        return formset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Membership and "queryset" not in kwargs:
            kwargs["queryset"] = Membership.objects.select_related("user")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- the tenant itself --------------------------------------------------------------------------


@admin.register(Tenant, site=tenant_admin_site)
class TenantAdmin(RoleGatedAdmin, NotFoundIs404, admin.ModelAdmin):
    """Only the signed-in tenant's own row: its name and time zone."""

    allow_add = False
    fields = ("slug", "name", "timezone", "created_at")
    readonly_fields = ("slug", "created_at")
    list_display = ("slug", "name", "timezone")

    def get_queryset(self, request):
        # Tenant is the scope, not scoped: the principal's tenant is the only row this admin knows.
        return super().get_queryset(request).filter(pk=request.principal.tenant.pk)

    def save_model(self, request, obj, form, change):
        workflows.tenant_update(tenant=obj, actor=request.principal)


# --- memberships --------------------------------------------------------------------------------


def _form_errors(form: forms.Form, exc: MemberError) -> None:
    for field, texts in exc.fields.items():
        for message in texts:
            form.add_error(field if field in form.fields else None, message)


class MembershipAddForm(TenantModelForm):
    """A new member: creates their user (users are global) and their seat in this tenant, through the same
    checks as the API (helpdesk.members): an existing username is refused rather than attached, so a manager
    can't pull someone else's user in; the password passes Django's validators; without one, the member is
    invited by e-mail. The seat's fields are the model's, validated by the model as everywhere."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    name = forms.CharField(max_length=300, required=False)
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to e-mail the member an invitation to choose one.",
    )

    class Meta:
        model = Membership
        fields = ("role", "tier", "skills", "capacity")

    def clean(self):
        data = super().clean()
        try:
            data["username"] = members.clean_username(data.get("username", ""))
            members.split_name(data.get("name", ""))
            members.check_invitable(password=data.get("password"), email=data.get("email", ""))
            if data.get("password"):
                members.check_password(
                    data["password"], username=data["username"], email=data.get("email", ""), name=data.get("name", "")
                )
        except MemberError as exc:
            _form_errors(self, exc)
        return data


class MembershipChangeForm(TenantModelForm):
    """A seat's change, refused here exactly as the service refuses it (the last admin stays an admin)."""

    def clean(self):
        data = super().clean()
        stored = Membership.objects.get(pk=self.instance.pk)
        try:
            members.check_not_last_admin(
                stored, role=data.get("role", stored.role), active=data.get("active", stored.active)
            )
        except MemberError as exc:
            _form_errors(self, exc)
        return data


@admin.register(Membership, site=tenant_admin_site)
class MembershipAdmin(TenantScopedAdmin):
    form = MembershipChangeForm
    list_display = ("username", "role", "tier", "skill_list", "capacity", "available", "active")
    list_filter = ("role", "tier", "available", "active")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    ordering = ("user__username",)
    fields = ("user", "role", "tier", "skills", "capacity", "available", "active", "created_at")
    readonly_fields = ("user", "created_at")
    add_fields = ("username", "email", "name", "password", "role", "tier", "skills", "capacity")
    # What a change may carry to workflows.member_update (the rest of the form is read-only).
    CHANGEABLE = ("role", "tier", "skills", "capacity", "available", "active")
    actions = ("unlock_sign_in",)

    @admin.action(description="Unlock sign-in (forget failed attempts)")
    def unlock_sign_in(self, request, queryset):
        """django-axes locks a username out after LOGIN_FAILURE_LIMIT failed sign-ins; its own admin pages
        sit on Django's global admin site, which is not mounted (and would show every tenant's users). This
        unlocks members of this tenant only, and only seats the manager may edit (none that outrank them)."""
        mine = [m for m in queryset.select_related("user") if self.has_change_permission(request, m)]
        if not mine:
            self.message_user(request, MSG_NOBODY_TO_UNLOCK, messages.WARNING)
            return
        workflows.member_sign_in_unlock(actor=request.principal, memberships=mine)
        names = ", ".join(sorted(m.user.get_username() for m in mine))
        self.message_user(request, MSG_UNLOCKED.format(names=names), messages.SUCCESS)

    @admin.display(ordering="user__username")
    def username(self, obj: Membership) -> str:
        return obj.user.get_username()

    @admin.display(description="skills")
    def skill_list(self, obj: Membership) -> str:
        return ", ".join(obj.skills)

    def has_change_permission(self, request, obj=None) -> bool:
        # A seat that outranks you is not yours to edit: a manager can't demote or disable an admin.
        principal = admin_principal(request)
        if principal is None or (obj is not None and ROLE_RANK[obj.role] > ROLE_RANK[principal.role]):
            return False
        return super().has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MembershipAddForm
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            # The form changed `obj` in memory; the use case starts from the stored seat, so its audit row
            # knows what was there before.
            stored = Membership.objects.select_related("user").get(pk=obj.pk)
            changes = {name: data[name] for name in self.CHANGEABLE if name in form.changed_data}
            membership = workflows.member_update(membership=stored, actor=request.principal, **changes)
        else:
            membership = workflows.member_add(
                tenant=request.principal.tenant,
                actor=request.principal,
                username=data["username"],
                email=data["email"],
                name=data["name"],
                password=data["password"] or None,
                role=data["role"],
                tier=data["tier"],
                skills=data["skills"],
                capacity=data["capacity"],
            )
        adopt(obj, membership)
        obj.user = membership.user


# --- teams --------------------------------------------------------------------------------------


class TeamMemberInline(TenantInline):
    model = TeamMember
    fields = ("membership",)
    allow_delete = True
    verbose_name = "member"
    verbose_name_plural = "members"

    def get_queryset(self, request):
        # Each row is labelled by its member's name and seat: one join, not two queries a row.
        return super().get_queryset(request).select_related("membership__user")


@admin.register(Team, site=tenant_admin_site)
class TeamAdmin(TenantScopedAdmin):
    list_display = ("name", "tier", "skill_list", "member_count", "active")
    list_filter = ("active",)
    search_fields = ("name",)
    ordering = ("name",)
    fields = ("name", "tier", "skills", "on_call", "active", "created_at")
    readonly_fields = ("created_at",)
    inlines = (TeamMemberInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members", distinct=True))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        workflows.team_save(team=obj, actor=request.principal)

    def save_formset(self, request, form, formset, change):
        """The members rows, as the team's members: through the workflow, like the team itself."""
        kept = [
            row.cleaned_data["membership"]
            for row in formset.forms
            if row.cleaned_data.get("membership") and not row.cleaned_data.get("DELETE")
        ]
        workflows.team_save(team=form.instance, actor=request.principal, members=list(dict.fromkeys(kept)))
        # What the admin's history message reads of a saved formset (nothing row by row: the set was replaced).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.display(description="skills")
    def skill_list(self, obj: Team) -> str:
        return ", ".join(obj.skills)

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Team) -> int:
        return obj.member_count


# --- API tokens ---------------------------------------------------------------------------------


@admin.register(ApiToken, site=tenant_admin_site)
class ApiTokenAdmin(TenantScopedAdmin):
    """Admins only. The key is shown once, when the token is made; only its hash is stored, and the
    hash is never shown. A token's role is fixed at issue: to change it, issue another and revoke."""

    required_role = Role.ADMIN
    secret_fields = ("key_hash",)
    list_display = ("prefix", "label", "role", "created_at", "last_used_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("label", "prefix")
    ordering = ("-created_at",)
    fields = ("prefix", "label", "role", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "role", "created_at", "last_used_at", "revoked_at")
    add_fields = ("label", "role")
    actions = ("revoke_tokens",)

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            workflows.api_token_relabel(token=obj, actor=request.principal, label=obj.label)
            return None
        token, key = workflows.api_token_create(
            tenant=request.principal.tenant,
            actor=request.principal,
            role=form.cleaned_data["role"],
            label=form.cleaned_data["label"],
        )
        adopt(obj, token)
        self.message_user(request, MSG_TOKEN_KEY.format(label=token.label or token.prefix, key=key), messages.WARNING)
        return None

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        count = workflows.api_tokens_revoke(tokens=queryset, actor=request.principal)
        self.message_user(request, MSG_TOKENS_REVOKED.format(count=count), messages.SUCCESS)


# --- the tenant's audit trail -------------------------------------------------------------------


@admin.register(AuditEvent, site=tenant_admin_site)
class AuditEventAdmin(TenantScopedAdmin):
    """Read-only, for admins: who added, changed or deactivated members, retired or removed configuration,
    erased a customer's data (never the erased values)."""

    required_role = Role.ADMIN
    allow_add = False
    allow_change = False
    list_display = ("created_at", "kind", "object_type", "object_id", "actor_label")
    list_filter = ("kind", "object_type")
    search_fields = ("kind", "actor_label")
    ordering = ("-created_at", "-id")
    readonly_fields = ("created_at", "kind", "object_type", "object_id", "actor_label", "before", "after")
    fields = readonly_fields


# Registered here because Django's admin autodiscovery imports `<app>.admin` only.
from helpdesk.notifications import admin as notifications_admin  # noqa: E402, F401
