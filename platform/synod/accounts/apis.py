"""Public API endpoints of accounts (under /api/v1/)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from synod.accounts import selectors
from synod.accounts.authentication import IsAuthenticatedCountingFailures


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
        overview = selectors.account_overview(request.user.address)
        return Response(self.OutputSerializer(overview).data)
