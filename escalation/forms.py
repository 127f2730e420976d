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


class RolesForm(forms.Form):
    """The roles a card's form posts (member ids; empty clears). Only the fields posted change: an agent's
    card posts the resolver alone."""

    resolver = forms.IntegerField(min_value=1, required=False)
    customer_updater = forms.IntegerField(min_value=1, required=False)
    overseer = forms.IntegerField(min_value=1, required=False)

    def member_ids(self) -> dict[str, int | None]:
        return {name: self.cleaned_data.get(name) for name in self.fields if name in self.data}
