"""Who may act on a call (start, reschedule, cancel, mark a no-show, complete, approve its summary): its agent,
and managers; an integration token acts with its role (API.md). One rule for the API and the pages."""

from __future__ import annotations

from callnotes.models import Call
from helpdesk.auth import Principal
from helpdesk.models import Role

ERR_NOT_YOURS = "Only the call's agent or a manager may {action} this call."


def may_act(call: Call, principal: Principal) -> bool:
    membership = principal.membership
    return membership is None or principal.has_role(Role.MANAGER) or call.agent_id == membership.pk
