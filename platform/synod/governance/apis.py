"""Public, read-only API of the governance mirror (under /api/v1/)."""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
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


class ProposalPagination(ValidatedPageNumberPagination):
    page_size = 20
    max_page_size = 100


class TallySerializer(serializers.Serializer):
    for_votes = serializers.IntegerField()
    against = serializers.IntegerField(source="against_votes")
    abstain = serializers.IntegerField(source="abstain_votes")
    quorum = serializers.IntegerField(allow_null=True, help_text="Null until voting opens.")


class ActionSerializer(serializers.Serializer):
    contract = serializers.CharField(allow_null=True)
    function = serializers.CharField(allow_null=True)
    kind = serializers.CharField()
    summary = serializers.CharField()
    args = serializers.DictField()


class ProposalSerializer(serializers.ModelSerializer):
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


class VoteSerializer(serializers.Serializer):
    voter = serializers.CharField()
    support = serializers.CharField(source="get_support_display")
    weight = serializers.IntegerField()
    reason = serializers.CharField()
    block_number = serializers.IntegerField()
    tx_hash = serializers.CharField()
    relayed = serializers.BooleanField()


class ProposalDetailSerializer(ProposalSerializer):
    votes = VoteSerializer(many=True)

    class Meta(ProposalSerializer.Meta):
        fields = [*ProposalSerializer.Meta.fields, "description", "targets", "calldatas", "votes"]


class ProposalListApi(APIView):
    """Proposals of every council, newest first, as the chain indexer mirrored them."""

    permission_classes = [AllowAny]
    pagination_class = ProposalPagination

    class FilterSerializer(serializers.Serializer):
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
            max_length=200,
            help_text="Search in title and description, or an exact proposal id.",
        )

    @extend_schema(parameters=[FilterSerializer], responses=ProposalSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=query_parameters(request))
        filters.is_valid(raise_exception=True)
        chosen = filters.validated_data
        proposals = selectors.proposals(
            selectors.ProposalFilters(
                council=chosen.get("council", ""),
                state=chosen.get("state", ""),
                kind=chosen.get("kind", ""),
                proposer=chosen.get("proposer", ""),
                search=chosen.get("q", ""),
            )
        )
        return paginated_response(
            pagination=self.pagination_class(),
            serializer_class=ProposalSerializer,
            queryset=proposals,
            request=request,
        )


class ProposalDetailApi(APIView):
    """One proposal with its decoded actions and every vote. The same id can exist in two
    councils (ids hash only the actions): pass `council` then."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        council = choice_parameter(Council.values, required=False)

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
        responses=ProposalDetailSerializer,
    )
    def get(self, request: Request, proposal_id: str) -> Response:
        filters = self.FilterSerializer(data=query_parameters(request))
        filters.is_valid(raise_exception=True)
        if not re.fullmatch(PROPOSAL_ID_PATTERN, proposal_id):
            raise serializers.ValidationError(
                {"proposal_id": "A proposal id is a decimal number (uint256)."}
            )
        council = filters.validated_data.get("council", "")
        found = list(
            selectors.proposals(selectors.ProposalFilters(council=council)).filter(
                proposal_id=str(int(proposal_id))
            )[:2]
        )
        if not found:
            raise NotFound("No proposal with that id on this chain.")
        if len(found) > 1:
            raise NotFound("That id exists in several councils: add ?council=data|model|compute.")
        return Response(ProposalDetailSerializer(found[0]).data)
