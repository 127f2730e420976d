"""/reviews/ — the managers' post-escalation reviews (escalation/reviews.py opens them when a high-priority or
repeated escalation resolves): the open ones first, filtered by status, each with its case and a form to say
what worked, what failed and which rule of the matrix to change. Saved through the workflow; a done review with
an empty answer comes back with the error beside the field and the typed text kept (400)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from escalation.models import EscalationRule, ReviewStatus
from escalation.selectors import review_list
from helpdesk import workflows
from helpdesk.workspace.access import manager_required
from helpdesk.workspace.queues import keyset_cut, keyset_walk
from helpdesk.workspace.views import render  # in the tenant's zone, as every workspace page

PAGE = 50
ORDER = ("-created_at", "-id")  # review_list's, newest first; the keyset cursor walks it (as the queues do)
STATUS_VIEWS = (("open", "Open"), ("done", "Done"), ("all", "All"))
MSG_SAVED = "Review #{pk} saved."
MSG_DONE = "Review #{pk} done."
MSG_REOPENED = "Review #{pk} reopened."
SUBMITS = {"save": None, "done": ReviewStatus.DONE, "reopen": ReviewStatus.OPEN}


class ReviewForm(forms.Form):
    what_worked = forms.CharField(required=False, max_length=5000, widget=forms.Textarea)
    what_failed = forms.CharField(required=False, max_length=5000, widget=forms.Textarea)
    rule_change = forms.CharField(required=False, max_length=5000, widget=forms.Textarea)
    rule_to_change = forms.ModelChoiceField(queryset=EscalationRule.objects.none(), required=False)
    submit = forms.ChoiceField(choices=[(name, name) for name in SUBMITS])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule_to_change"].queryset = EscalationRule.objects.all()  # the request's tenant (scoped)


def _status_view(request) -> str:
    wanted = request.GET.get("status", "open")
    return wanted if wanted in dict(STATUS_VIEWS) else "open"


def _page(request, status: str, *, failed=None, status_code: int = 200):
    """The list; `failed` = (review id, its posted values, its errors) re-shows one form as it was sent."""
    tenant = request.principal.tenant
    found = review_list(tenant=tenant)
    counts = found.order_by().aggregate(
        open=Count("pk", filter=Q(status=ReviewStatus.OPEN)), done=Count("pk", filter=Q(status=ReviewStatus.DONE))
    )
    counts["all"] = counts["open"] + counts["done"]
    if status != "all":
        found = found.filter(status=status)
    walk, found, backwards, mark, bad = keyset_walk(found, ORDER, request.GET)
    read = list(found.order_by(*walk)[: PAGE + 1])
    reviews, next_cursor, prev_cursor = keyset_cut(
        read[::-1] if backwards else read, ORDER, size=PAGE, backwards=backwards, mark=mark
    )
    failed_id, values, errors = failed or (None, {}, {})
    cards = [
        {
            "review": review,
            "values": values if review.pk == failed_id else _values(review),
            "errors": errors if review.pk == failed_id else {},
        }
        for review in reviews
    ]
    context = {
        "cards": cards,
        "status": status,
        "views": [(key, label, counts[key]) for key, label in STATUS_VIEWS],
        "rules": list(EscalationRule.objects.order_by("position", "id").only("pk", "name", "active")),
        "next_cursor": next_cursor,
        "prev_cursor": prev_cursor,
        "page_query": _page_query(request, status),
        "errors": bad,
    }
    return render(request, "workspace/reviews.html", context, status=400 if bad else status_code)


def _page_query(request, status: str) -> str:
    """The query of the page shown (its status and cursor), so a form saved on page 3 comes back to page 3."""
    query = QueryDict(mutable=True)
    query["status"] = status
    for name in ("cursor", "before"):
        if request.GET.get(name):
            query[name] = request.GET[name]
    return query.urlencode()


def _values(review) -> dict:
    return {
        "what_worked": review.what_worked,
        "what_failed": review.what_failed,
        "rule_change": review.rule_change,
        "rule_to_change": review.rule_to_change_id,
    }


@require_GET
@manager_required
def reviews(request):
    return _page(request, _status_view(request))


@require_POST
@manager_required
def review_save(request, review_id: int):
    """Save the answers; "done" also completes the review, "reopen" opens it again."""
    review = review_list(tenant=request.principal.tenant).filter(pk=review_id).first()
    if review is None:
        raise Http404("No such review.")
    status = _status_view(request)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _page(request, status, failed=(review.pk, _posted(request), _messages(form.errors)), status_code=400)
    data = dict(form.cleaned_data)
    submit = data.pop("submit")
    if SUBMITS[submit] is not None:
        data["status"] = SUBMITS[submit]
    try:
        workflows.review_update(review=review, actor=request.principal, **data)
    except ValidationError as exc:
        return _page(request, status, failed=(review.pk, _posted(request), exc.message_dict), status_code=400)
    done = {"done": MSG_DONE, "reopen": MSG_REOPENED}.get(submit, MSG_SAVED)
    messages.success(request, done.format(pk=review.pk))
    return redirect(f"{reverse('workspace:reviews')}?{_page_query(request, status)}#review-{review.pk}")


def _posted(request) -> dict:
    values = {name: request.POST.get(name, "") for name in ("what_worked", "what_failed", "rule_change")}
    rule = request.POST.get("rule_to_change", "")
    values["rule_to_change"] = int(rule) if rule.isdigit() else None
    return values


def _messages(errors) -> dict[str, list[str]]:
    return {name: list(found) for name, found in errors.items()}
