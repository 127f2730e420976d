"""The agent's calendar feed: GET /api/v1/calendar-feeds/<key>.ics, for calendar apps, which send no API
token. The key in the URL is the credential: it is looked up by its hash through a narrow SECURITY DEFINER
function (no tenant is known before), then everything runs inside the feed's tenant under RLS. An unknown or
revoked key is a 404, like anything that does not exist."""

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from callnotes import invites, selectors
from helpdesk.auth import hash_token_key
from helpdesk.models import Membership, Tenant
from helpdesk.tenancy import tenant_context


@require_GET
def calendar_feed(request, key: str):
    found = selectors.feed_owner(hash_token_key(key))
    if found is None:
        raise Http404
    _, tenant_id, member_id = found
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        member = Membership.objects.select_related("user").get(pk=member_id)
        events = [selectors.call_event(call) for call in selectors.feed_calls(member=member)]
        name = f"{tenant.name}: calls of {member.user.get_username()}"
        body = invites.feed(events, name=name)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
