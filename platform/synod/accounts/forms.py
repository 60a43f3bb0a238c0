from __future__ import annotations

import secrets

from django import forms
from django.utils import timezone


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=50, strip=True)
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The key stops working at 00:00 UTC on this day.",
    )
    spending_cap_tickets = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        label="Spending cap (tickets)",
        help_text="Optional. The most tickets calls with this key may spend; at most your "
        "spending allowance.",
        widget=forms.NumberInput(attrs={"placeholder": "no cap"}),
    )
    client_token = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A fresh token per rendered form; a resubmission of the same form carries the same one.
        self.fields["client_token"].initial = secrets.token_urlsafe(24)

    def clean_expires_on(self):
        expires_on = self.cleaned_data.get("expires_on")
        if expires_on is not None and expires_on <= timezone.localdate():
            raise forms.ValidationError("Pick a day after today.")
        return expires_on


class ApiKeyCapForm(forms.Form):
    """A key's spending cap; empty removes it."""

    spending_cap_tickets = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        label="Spending cap (tickets)",
        error_messages={"min_value": "A cap is at least one ticket; leave it empty for none."},
    )
