"""The inputs of an escalation's lifecycle steps as people type them (the admin's buttons and the agent
pages): shapes only; what may be done is the services' call."""

from django import forms

from helpdesk.models import MAX_TIER


class ResolveForm(forms.Form):
    resolution = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    root_cause = forms.CharField(max_length=500, required=False, help_text="one sentence")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DeEscalateForm(ReasonForm):
    to_tier = forms.IntegerField(min_value=0, max_value=MAX_TIER)
