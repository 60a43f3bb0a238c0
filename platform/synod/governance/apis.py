"""Public, read-only API of the governance mirror (under /api/v1/)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from synod.common.api import (
    ValidatedPageNumberPagination,
    choice_parameter,
    paginated_response,
    query_parameters,
)
from synod.governance import selectors
from synod.governance.actions import KIND_LABELS
from synod.governance.models import Council, Proposal, ProposalState

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
# A uint256 in decimal: at most 78 digits.
PROPOSAL_ID_PATTERN = r"^[0-9]{1,78}$"
MAX_SEARCH_CHARS = 200


class ProposalPagination(ValidatedPageNumberPagination):
    page_size = 20
    max_page_size = 100


class ProposalListApi(APIView):
    """Proposals of every council, newest first, as the chain indexer mirrored them."""

    permission_classes = [AllowAny]
    pagination_class = ProposalPagination

    class FilterSerializer(serializers.Serializer):
        """The proposal filters, read once for the API and for the proposal list page."""

        council = choice_parameter(Council.values, required=False)
        state = choice_parameter(ProposalState.values, required=False)
        kind = choice_parameter(list(KIND_LABELS), required=False)
        proposer = serializers.RegexField(
            ADDRESS_PATTERN,
            required=False,
            help_text="The proposer's address (any letter case).",
            error_messages={"invalid": "Enter an address: 0x and 40 hexadecimal digits."},
        )
        q = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=MAX_SEARCH_CHARS,
            help_text="Search in title and description, or an exact proposal id.",
        )

        @classmethod
        def parse(
            cls, query: Mapping[str, str], *, lenient: bool = False
        ) -> selectors.ProposalFilters:
            """The filters in `query`. Strict (the API): a value it cannot read is a 400
            naming the parameter. Lenient (the page, whose form sends "" for "any"): such
            values are ignored and a long search is cut, the rest still filters."""
            data = dict(query)
            if lenient and "q" in data:
                data["q"] = data["q"][:MAX_SEARCH_CHARS]
            serializer = cls(data=data)
            if not serializer.is_valid():
                if not lenient:
                    raise serializers.ValidationError(serializer.errors)
                kept = {
                    name: value for name, value in data.items() if name not in serializer.errors
                }
                serializer = cls(data=kept)
                serializer.is_valid(raise_exception=True)  # every refused value is gone
            chosen = serializer.validated_data
            return selectors.ProposalFilters(
                council=chosen.get("council", ""),
                state=chosen.get("state", ""),
                kind=chosen.get("kind", ""),
                proposer=chosen.get("proposer", ""),
                search=chosen.get("q", ""),
            )

    @extend_schema_serializer(component_name="Proposal")
    class OutputSerializer(serializers.ModelSerializer):
        @extend_schema_serializer(component_name="Tally")
        class TallySerializer(serializers.Serializer):
            for_votes = serializers.IntegerField()
            against = serializers.IntegerField(source="against_votes")
            abstain = serializers.IntegerField(source="abstain_votes")
            quorum = serializers.IntegerField(allow_null=True, help_text="Null until voting opens.")

        @extend_schema_serializer(component_name="Action")
        class ActionSerializer(serializers.Serializer):
            contract = serializers.CharField(allow_null=True)
            function = serializers.CharField(allow_null=True)
            kind = serializers.CharField()
            summary = serializers.CharField()
            args = serializers.DictField()

        id = serializers.CharField(
            source="proposal_id", help_text="The on-chain proposal id (uint256)."
        )
        tally = TallySerializer(source="*")
        actions = ActionSerializer(many=True)

        class Meta:
            model = Proposal
            fields = [
                "id", "council", "kind", "title", "state", "proposer", "actions", "tally",
                "vote_start", "vote_end", "eta", "created_block", "created_tx", "created_at",
                "executed_block", "executed_tx",
            ]  # fmt: skip

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer.parse(query_parameters(request))
        return paginated_response(
            pagination=self.pagination_class(),
            serializer_class=self.OutputSerializer,
            queryset=selectors.proposals(filters),
            request=request,
        )


class ProposalDetailApi(APIView):
    """One proposal with its decoded actions and every vote. The same id can exist in two
    councils (ids hash only the actions): pass `council` then."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        council = choice_parameter(Council.values, required=False)

    @extend_schema_serializer(component_name="ProposalDetail")
    class OutputSerializer(ProposalListApi.OutputSerializer):
        @extend_schema_serializer(component_name="Vote")
        class VoteSerializer(serializers.Serializer):
            voter = serializers.CharField()
            support = serializers.CharField(source="get_support_display")
            weight = serializers.IntegerField()
            reason = serializers.CharField()
            block_number = serializers.IntegerField()
            tx_hash = serializers.CharField()
            relayed = serializers.BooleanField()

        votes = VoteSerializer(many=True)

        class Meta(ProposalListApi.OutputSerializer.Meta):
            fields = [
                *ProposalListApi.OutputSerializer.Meta.fields,
                "description", "targets", "calldatas", "votes",
            ]  # fmt: skip

    @extend_schema(
        parameters=[
            FilterSerializer,
            OpenApiParameter(
                "proposal_id",
                str,
                OpenApiParameter.PATH,
                pattern=PROPOSAL_ID_PATTERN,
                description="The on-chain proposal id (uint256), in decimal.",
            ),
        ],
        responses=OutputSerializer,
    )
    def get(self, request: Request, proposal_id: str) -> Response:
        filters = self.FilterSerializer(data=query_parameters(request))
        filters.is_valid(raise_exception=True)
        if not re.fullmatch(PROPOSAL_ID_PATTERN, proposal_id):
            raise serializers.ValidationError(
                {"proposal_id": "A proposal id is a decimal number (uint256)."}
            )
        proposal = selectors.proposal_by_id(
            int(proposal_id), council=filters.validated_data.get("council", "")
        )
        return Response(self.OutputSerializer(proposal).data)
