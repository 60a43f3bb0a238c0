"""The inputs of the tickets pages: parsed here, checked against the chain in
wallet_transactions (or the services), never trusted from the browser."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from django import forms
from django.utils import timezone

MAX_TICKETS = 10**30
# TicketEscrow packs a spending allowance into 80 bits.
MAX_ALLOWANCE_TICKETS = 2**80 - 1


class BuyForm(forms.Form):
    eth = forms.DecimalField(
        label="Pay (ETH)",
        min_value=Decimal(0),
        max_digits=40,
        decimal_places=18,
        error_messages={
            "invalid": "Enter an amount of ETH, for example 0.01.",
            "max_decimal_places": "ETH has at most 18 decimals.",
            "min_value": "Enter how much ETH to pay: more than zero.",
        },
    )


class AmountForm(forms.Form):
    amount = forms.IntegerField(
        label="Tickets",
        min_value=1,
        max_value=MAX_TICKETS,
        error_messages={
            "invalid": "Enter a whole number of tickets.",
            "min_value": "The amount must be at least one ticket.",
            "max_value": "That amount is larger than any ticket balance.",
        },
    )


class PermitDepositForm(AmountForm):
    deadline = forms.IntegerField(min_value=0, max_value=2**64 - 1)
    signature = forms.RegexField(
        regex=r"^0x[0-9a-fA-F]{130}$",
        error_messages={"invalid": "The signature must be 65 bytes as 0x-prefixed hex."},
    )


class ExplainForm(forms.Form):
    to = forms.RegexField(regex=r"^0x[0-9a-fA-F]{40}$")
    data = forms.RegexField(regex=r"^0x([0-9a-fA-F]{2})*$", max_length=20_000)
    value = forms.RegexField(regex=r"^0x[0-9a-fA-F]{1,64}$", required=False)

    def clean_value(self) -> int:
        return int(self.cleaned_data.get("value") or "0x0", 16)


class AllowanceForm(forms.Form):
    """A spending allowance: at most `max_tickets`, until the end of `valid_until` (UTC)."""

    max_tickets = forms.IntegerField(
        label="Maximum tickets",
        min_value=1,
        max_value=MAX_ALLOWANCE_TICKETS,
        error_messages={
            "min_value": "Allow at least one ticket.",
            "max_value": "That allowance is larger than the escrow holds.",
        },
    )
    valid_until = forms.DateField(
        label="Valid until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The allowance ends at 23:59:59 UTC on this day.",
    )

    def clean_valid_until(self):
        day = self.cleaned_data["valid_until"]
        if day < timezone.now().astimezone(UTC).date():
            raise forms.ValidationError("Pick today or a later day.")
        return day

    @property
    def valid_until_timestamp(self) -> int:
        day = self.cleaned_data["valid_until"]
        return int(datetime.combine(day, time(23, 59, 59), tzinfo=UTC).timestamp())


class AllowanceSignatureForm(forms.Form):
    max_tickets = forms.IntegerField(min_value=1, max_value=MAX_ALLOWANCE_TICKETS)
    valid_until = forms.IntegerField(min_value=1, max_value=2**64 - 1)
    signature = forms.RegexField(
        regex=r"^0x[0-9a-fA-F]{130}$",
        error_messages={"invalid": "The signature must be 65 bytes as 0x-prefixed hex."},
    )
