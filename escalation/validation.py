"""What a rule of the matrix may say: the one validation every door uses.

The admin's form runs it through `EscalationRule.clean()` (Django's ModelForm calls full_clean), the API and
every other writer through `escalation.services.rule_create/rule_update` (helpdesk.validation.full_check). A rule
the API refuses can't be saved in the admin, and the reverse (a rule with target_role "boss" once passed the
admin and then broke intake with a 500).

Errors are keyed by path ("conditions.percent", "target"), as the API reports them; helpdesk/validation.py
adapts them to forms, which only know field names.
"""

from __future__ import annotations

from escalation import triggers

ERR_NO_TARGET = "Give a target_team, target_tier, target_role or target_skill."
ERR_ACTION = "One of: " + ", ".join(triggers.ACTIONS) + "."
ERR_KIND = "An escalating rule needs a kind: functional or hierarchical."
ERR_TAGS_FOR_TAG = "A tag rule needs the tags it adds (a non-empty list of slugs such as 'billing_dispute')."
ERR_TAGS_ONLY_FOR_TAG = "Only a tag rule adds tags; leave tags empty for action {action!r}."
ERR_TAG_LOOP = "A tag rule fired by tag_added must not add a tag it is fired by (it would fire itself)."
ERR_NOTIFY = "A list of at most {n} role names, recipient specs or channel ids (strings of up to 100 characters)."
ERR_NOTIFY_ITEM = "{item!r} is neither a recipient (e.g. manager, role:admin, on_call, team:3) nor a channel id."
ERR_NOTIFY_STRANGER = "{item!r} names no team or person of this desk."
MAX_NOTIFY = 20
ERR_SUPERSEDES = "A list of at most {n} rule slugs (other than this rule's own)."
MAX_SUPERSEDES = 20


ERR_NOT_UP = "A hierarchical escalation goes up: pick a tier above {tier} (the ticket's), or a manager."
AUTHORITY_ROLES = ("manager", "admin")


def hierarchical_target_problems(
    *, ticket_tier: int, target_tier=None, target_team=None, target_agent=None
) -> dict[str, list[str]]:
    """A person's hierarchical escalation asks for authority: to a tier above the ticket's, a team or a person
    of such a tier, or a manager (target_role, or a manager or admin as the person). To the same tier or one
    below, it moved nothing up (and down is de-escalation): refused, naming the field that said where."""
    message = [ERR_NOT_UP.format(tier=ticket_tier)]
    if target_tier is not None and target_tier <= ticket_tier:
        return {"target_tier": message}
    if target_team is not None and target_agent is None and target_team.tier <= ticket_tier:
        return {"target_team": message}
    if target_agent is not None and target_agent.tier <= ticket_tier and target_agent.role not in AUTHORITY_ROLES:
        return {"target_agent": message}
    return {}


def missing_summary_fields(data: dict | None) -> list[str]:
    """The five-field summary's fields left empty (a manual escalation needs all five, from a person)."""
    from escalation.models import SUMMARY_FIELDS

    data = data or {}
    return [name for name in SUMMARY_FIELDS if not str(data.get(name) or "").strip()]


def rule_conditions_clean(trigger: str, conditions: dict) -> dict:
    """The conditions in their trigger's shape (escalation/triggers.py), plus what only the tenant's data can
    tell: the sweep looks at a clock when it crosses one of its policy's warning thresholds, so an sla_risk
    rule's percent must be one of them or it would only be seen at the next threshold. Raises ConditionError."""
    from slas.services import active_policies  # the tenant's cached policies; slas sits below escalation

    cleaned = triggers.validate_conditions(trigger, conditions)
    percent = cleaned.get("percent") if trigger == "sla_risk" else None
    if percent is not None:
        thresholds = sorted({p for policy in active_policies() for p in policy.warn_percent})
        if thresholds and percent not in thresholds:
            raise triggers.ConditionError(
                "conditions.percent",
                f"clocks are checked at their policies' warning thresholds ({', '.join(map(str, thresholds))} %); "
                f"use one of them, or add {percent:g} to a policy's warn_percent",
            )
    return cleaned


def _notify_problems(notify) -> tuple[list, list[str]]:
    """The notify list with channel ids as strings (JSON may carry them as numbers), and what is wrong with it:
    each item names recipients (helpdesk.notifications.recipients) or one of the tenant's channels."""
    from helpdesk.models import NotificationChannel
    from helpdesk.notifications.recipients import is_spec

    if not isinstance(notify, list) or len(notify) > MAX_NOTIFY:
        return notify, [ERR_NOTIFY.format(n=MAX_NOTIFY)]
    items = [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in notify]
    if not all(isinstance(i, str) and 0 < len(i) <= 100 for i in items):
        return notify, [ERR_NOTIFY.format(n=MAX_NOTIFY)]
    channels = _known(NotificationChannel, {int(i) for i in items if i.isdigit()})
    wrong = [i for i in items if (int(i) not in channels if i.isdigit() else not is_spec(i))]
    strangers = _strangers([i for i in items if i not in wrong])
    problems = [ERR_NOTIFY_ITEM.format(item=i) for i in wrong] + [ERR_NOTIFY_STRANGER.format(item=i) for i in strangers]
    return items, problems


def _strangers(specs: list[str]) -> list[str]:
    """The "team:<id>" and "user:<id>" specs that name no team or member of the tenant (the scoped managers see
    no other tenant's): recipients would silently resolve them to no one."""
    from helpdesk.models import Membership, Team

    models = {"team": Team, "user": Membership}
    named = [(spec, kind, int(value)) for spec in specs for kind, _, value in [spec.partition(":")]
             if kind in models and value.isdigit()]  # fmt: skip
    known = {kind: _known(model, {pk for _, k, pk in named if k == kind}) for kind, model in models.items()}
    return [spec for spec, kind, pk in named if pk not in known[kind]]


def _known(model, ids: set[int]) -> set[int]:
    return set(model.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()


def rule_problems(rule) -> dict[str, list[str]]:
    """What is wrong with the rule as it stands (an unsaved or changed instance), by path. Normalises its
    conditions in place when they are valid, so what is stored is what the evaluator expects."""
    problems: dict[str, list[str]] = {}
    if rule.trigger not in triggers.TRIGGERS:
        problems["trigger"] = [triggers.UNKNOWN_TRIGGER.format(trigger=rule.trigger)]
    else:
        try:
            rule.conditions = rule_conditions_clean(rule.trigger, rule.conditions if rule.conditions else {})
        except triggers.ConditionError as exc:
            problems[exc.field] = [exc.message]
    action = getattr(rule, "action", None) or "escalate"
    if action not in triggers.ACTIONS:
        problems["action"] = [ERR_ACTION]
    problems.update(_action_problems(rule, action))
    rule.notify, wrong = _notify_problems(rule.notify if rule.notify is not None else [])
    if wrong:
        problems["notify"] = wrong
    rule.supersedes, wrong = _supersedes_problems(rule.supersedes if rule.supersedes is not None else [], rule.slug)
    if wrong:
        problems["supersedes"] = wrong
    return problems


def _action_problems(rule, action: str) -> dict[str, list[str]]:
    """An escalating rule needs a kind and a target; a tag rule its tags (and never a tag it is fired by: no rule
    may feed itself); a flag rule neither."""
    problems: dict[str, list[str]] = {}
    tags = rule.tags if rule.tags is not None else []
    if action == "escalate":
        if not rule.kind:
            problems["kind"] = [ERR_KIND]
        if not (rule.target_team_id or rule.target_tier is not None or rule.target_role or rule.target_skill):
            problems["target"] = [ERR_NO_TARGET]
    if action == "tag":
        try:
            rule.tags = triggers.tag_slugs(tags)
        except triggers.ConditionError:
            problems["tags"] = [ERR_TAGS_FOR_TAG]
        else:
            fired_by = set((rule.conditions or {}).get("tags") or ()) if rule.trigger == "tag_added" else set()
            if fired_by & set(rule.tags):
                problems["tags"] = [ERR_TAG_LOOP]
    elif tags and action in triggers.ACTIONS:
        problems["tags"] = [ERR_TAGS_ONLY_FOR_TAG.format(action=action)]
    return problems


def _supersedes_problems(slugs, own: str) -> tuple[list, list[str]]:
    """Slugs, lower-cased and without duplicates. A slug that names no rule yet is allowed: the rule it names may
    come later, and supersession only ever looks at rules that fired."""
    valid = isinstance(slugs, list) and len(slugs) <= MAX_SUPERSEDES and all(isinstance(s, str) for s in slugs)
    cleaned = list(dict.fromkeys(s.strip().lower() for s in slugs)) if valid else slugs
    if not valid or any(not triggers.is_slug(s) or s == own for s in cleaned):
        return slugs, [ERR_SUPERSEDES.format(n=MAX_SUPERSEDES)]
    return cleaned, []


ERR_REVIEW_DONE_NEEDS = "A done review says what worked and what failed."


def review_problems(review) -> dict[str, list[str]]:
    """What is wrong with a post-escalation review, by field (the one validation of Review: API, admin, page)."""
    from escalation.models import ReviewStatus

    problems: dict[str, list[str]] = {}
    if review.status == ReviewStatus.DONE:
        for name in ("what_worked", "what_failed"):
            if not (getattr(review, name) or "").strip():
                problems[name] = [ERR_REVIEW_DONE_NEEDS]
    return problems
