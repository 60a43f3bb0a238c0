from django import forms

from synod.governance.actions import PARAMETERS
from synod.governance.models import Council

COUNCIL_CHOICES = Council.choices


class _ProposalForm(forms.Form):
    title = forms.CharField(
        max_length=200, required=False, help_text="Leave empty for a clear default."
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=5_000, required=False,
        label="Why", help_text="The reasoning voters will read.",
    )  # fmt: skip


class ApproveDatasetForm(_ProposalForm):
    sha256 = forms.CharField(label="Dataset sha256", max_length=66)
    uri = forms.CharField(label="Where to get it", max_length=500)
    license = forms.CharField(max_length=100)


class RevokeDatasetForm(_ProposalForm):
    sha256 = forms.CharField(label="Dataset sha256", max_length=66)


class ApproveModelForm(_ProposalForm):
    sha256 = forms.CharField(label="Model sha256", max_length=66)
    name = forms.CharField(max_length=100)
    version = forms.CharField(max_length=100)
    task = forms.CharField(max_length=100)
    price_per_call = forms.IntegerField(
        min_value=1, max_value=10**9, label="Price per call (tickets)"
    )
    dataset_sha256 = forms.CharField(label="Evaluated on dataset (sha256)", max_length=66)
    report_sha256 = forms.CharField(label="Evaluation report sha256", max_length=66)


class RevokeModelForm(_ProposalForm):
    sha256 = forms.CharField(label="Model sha256", max_length=66)


class BadgeForm(_ProposalForm):
    council = forms.ChoiceField(choices=COUNCIL_CHOICES)
    holder = forms.CharField(label="Address", max_length=42)


class ParameterForm(_ProposalForm):
    parameter = forms.ChoiceField(
        choices=[(p.name, f"{p.label} ({p.unit})") for p in PARAMETERS.values()]
    )
    council = forms.ChoiceField(
        choices=[("", "—"), *COUNCIL_CHOICES], required=False,
        help_text="Only for a council's own voting period or quorum.",
    )  # fmt: skip
    value = forms.IntegerField(min_value=0)


FORMS = {
    "approve_dataset": ApproveDatasetForm,
    "revoke_dataset": RevokeDatasetForm,
    "approve_model": ApproveModelForm,
    "revoke_model": RevokeModelForm,
    "grant_badge": BadgeForm,
    "revoke_badge": BadgeForm,
    "set_parameter": ParameterForm,
}


class VoteForm(forms.Form):
    support = forms.TypedChoiceField(
        coerce=int, choices=[(1, "For"), (0, "Against"), (2, "Abstain")]
    )
    reason = forms.CharField(max_length=2_000, required=False)


class RelayForm(VoteForm):
    nonce = forms.IntegerField(min_value=0)
    signature = forms.RegexField(regex=r"^0x[0-9a-fA-F]{130}$", error_messages={
        "invalid": "the signature must be 65 bytes of 0x-hex"})  # fmt: skip
