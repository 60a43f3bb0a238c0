"""Public, read-only API of the governance mirror (under /api/v1/)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny

from synod.governance import selectors
from synod.governance.actions import KIND_LABELS
from synod.governance.models import Council, Proposal, ProposalState


class ProposalPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
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


FILTER_PARAMETERS = [
    OpenApiParameter("council", str, enum=Council.values),
    OpenApiParameter("state", str, enum=ProposalState.values),
    OpenApiParameter("kind", str, enum=list(KIND_LABELS)),
    OpenApiParameter("proposer", str, description="An address."),
    OpenApiParameter("q", str, description="Search in title and description."),
]


class ProposalListApi(ListAPIView):
    """Proposals of every council, newest first, as the chain indexer mirrored them."""

    permission_classes = [AllowAny]
    serializer_class = ProposalSerializer
    pagination_class = ProposalPagination

    @extend_schema(parameters=FILTER_PARAMETERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params

        def choice(name: str, allowed) -> str:
            value = params.get(name, "")
            return value if value in allowed else ""

        return selectors.proposals(
            selectors.ProposalFilters(
                council=choice("council", Council.values),
                state=choice("state", ProposalState.values),
                kind=choice("kind", KIND_LABELS),
                proposer=params.get("proposer", "")[:42],
                search=params.get("q", "")[:200],
            )
        )


class ProposalDetailApi(RetrieveAPIView):
    """One proposal with its decoded actions and every vote. The same id can exist in two
    councils (ids hash only the actions): pass `council` then."""

    permission_classes = [AllowAny]
    serializer_class = ProposalDetailSerializer

    @extend_schema(parameters=[OpenApiParameter("council", OpenApiTypes.STR, enum=Council.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self) -> Proposal:
        proposal_id = self.kwargs["proposal_id"]
        council = self.request.query_params.get("council", "")
        matches = selectors.proposals(selectors.ProposalFilters(council=council)).filter(
            proposal_id=proposal_id
        )
        found = list(matches[:2])
        if not found:
            raise NotFound("No proposal with that id on this chain.")
        if len(found) > 1:
            raise NotFound("That id exists in several councils: add ?council=data|model|compute.")
        return found[0]
