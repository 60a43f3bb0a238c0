"""Public API endpoints of accounts (under /api/v1/)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from synod.accounts.authentication import IsAuthenticatedCountingFailures
from synod.tickets.selectors import ticket_summary


class AccountApi(APIView):
    permission_classes = [IsAuthenticatedCountingFailures]

    @extend_schema_serializer(component_name="Account")
    class OutputSerializer(serializers.Serializer):
        address = serializers.CharField()
        chain_reachable = serializers.BooleanField()
        tickets_wallet = serializers.IntegerField(allow_null=True)
        tickets_deposited = serializers.IntegerField(allow_null=True)
        tickets_reserved = serializers.IntegerField(allow_null=True)
        tickets_spent = serializers.IntegerField(allow_null=True)
        tickets_available = serializers.IntegerField(allow_null=True)

    @extend_schema(
        operation_id="account_retrieve",
        summary="The signed-in account: address and ticket figures",
        description=(
            "Whole tickets. A figure is null when its contract is not deployed yet, or when "
            "the chain does not answer (then `chain_reachable` is false)."
        ),
        # The error answers (401, 403, 429, ...) are added to every operation in one place:
        # synod.common.api.document_error_responses.
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        address = request.user.address
        data = {"address": address, "chain_reachable": True}
        try:
            summary = ticket_summary(address)
        except ConnectionError:
            data["chain_reachable"] = False
            summary = None
        for figure in ("wallet", "deposited", "reserved", "spent", "available"):
            data[f"tickets_{figure}"] = getattr(summary, figure) if summary else None
        return Response(self.OutputSerializer(data).data)
