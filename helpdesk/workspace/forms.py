"""The workspace's forms: the shapes of what a person types. What may be done with it is the workflows' and
the services' call (the same checks as the API); these only parse."""

from __future__ import annotations

from django import forms

from escalation.models import SUMMARY_FIELDS, Kind
from helpdesk.models import MAX_TIER
from tickets.models import Outcome

MAX_TEXT = 100_000  # as the API's messages
SUMMARY_LABELS = {
    "problem": "Problem",
    "tried": "Tried",
    "emotional_state": "Emotional state",
    "desired_outcome": "Desired outcome",
    "account_context": "Account context",
}


class ReplyForm(forms.Form):
    body = forms.CharField(max_length=MAX_TEXT, strip=True)
    internal = forms.BooleanField(required=False)


class AttemptForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    tier = forms.IntegerField(min_value=0, max_value=MAX_TIER)
    note = forms.CharField(max_length=MAX_TEXT, required=False)


class StatusForm(forms.Form):
    status = forms.CharField(max_length=16)


class TagForm(forms.Form):
    tag = forms.SlugField(max_length=50)

    def clean_tag(self):
        return self.cleaned_data["tag"].lower()


class EscalateForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices)
    target = forms.CharField(max_length=40)
    reason = forms.CharField(max_length=2000, required=False)
    to_call = forms.BooleanField(required=False)
    problem = forms.CharField(max_length=2000)
    tried = forms.CharField(max_length=5000)
    emotional_state = forms.CharField(max_length=500)
    desired_outcome = forms.CharField(max_length=2000)
    account_context = forms.CharField(max_length=2000)

    def summary(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in SUMMARY_FIELDS}
