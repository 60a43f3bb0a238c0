"""Public, read-only API of the registry (under /api/v1/): what is approved now."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from synod.common.api import ValidatedPageNumberPagination, paginated_response
from synod.registry import selectors
from synod.registry.models import ModelVersion


class RegistryPagination(ValidatedPageNumberPagination):
    page_size = 50
    max_page_size = 200


class TensorSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(help_text='"tensor", or an ONNX type such as seq(map(...)).')
    elem_type = serializers.CharField(help_text="float, int64, string, ... (tensors only).")
    shape = serializers.ListField(
        child=serializers.JSONField(),
        help_text="One entry per dimension: a size, a symbolic name (e.g. 'batch') or null.",
    )


class ApprovalSerializer(serializers.Serializer):
    status = serializers.CharField(source="approval_status")
    block_number = serializers.IntegerField(source="approval_block_number", allow_null=True)
    tx_hash = serializers.CharField(source="approval_tx_hash")


class EvaluationSummarySerializer(serializers.Serializer):
    dataset_sha256 = serializers.CharField(source="dataset.sha256")
    metrics = serializers.JSONField(help_text="Task metrics; identical for the same runtime.")
    metrics_sha256 = serializers.CharField()
    report_sha256 = serializers.CharField(help_text="sha256 of the canonical JSON report.")
    execution_provider = serializers.CharField()
    finished_at = serializers.DateTimeField()


class ModelListApi(APIView):
    permission_classes = [AllowAny]
    pagination_class = RegistryPagination

    @extend_schema_serializer(component_name="ApprovedModelVersion")
    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        version = serializers.CharField()
        reference = serializers.CharField(help_text="name@version, as /api/v1/inference takes.")
        sha256 = serializers.CharField()
        task = serializers.CharField()
        description = serializers.CharField()
        price_per_call = serializers.IntegerField(help_text="Tickets per call.")
        dataset_sha256 = serializers.CharField(source="dataset.sha256")
        tokenizer_sha256 = serializers.CharField()
        opset = serializers.DictField(child=serializers.IntegerField())
        inputs = TensorSpecSerializer(many=True)
        outputs = TensorSpecSerializer(many=True)
        approval = ApprovalSerializer(source="*")
        evaluation = serializers.SerializerMethodField()

        @extend_schema_field(EvaluationSummarySerializer(allow_null=True))
        def get_evaluation(self, model: ModelVersion) -> dict[str, Any] | None:
            evaluation = selectors.latest_evaluation(model)
            return EvaluationSummarySerializer(evaluation).data if evaluation else None

    @extend_schema(
        operation_id="models_list",
        summary="Approved model versions",
        description=(
            "Model versions the model council approved on-chain and has not revoked: their "
            "input/output signature, price per call and latest evaluation metrics."
        ),
        responses=OutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            pagination=self.pagination_class(),
            serializer_class=self.OutputSerializer,
            queryset=selectors.approved_model_versions(),
            request=request,
        )


class DatasetListApi(APIView):
    permission_classes = [AllowAny]
    pagination_class = RegistryPagination

    @extend_schema_serializer(component_name="ApprovedDataset")
    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        sha256 = serializers.CharField()
        description = serializers.CharField()
        format = serializers.CharField()
        size_bytes = serializers.IntegerField()
        row_count = serializers.IntegerField()
        input_columns = serializers.ListField(child=serializers.CharField())
        label_column = serializers.CharField()
        column_types = serializers.DictField(child=serializers.CharField())
        approval = ApprovalSerializer(source="*")

    @extend_schema(
        operation_id="datasets_list",
        summary="Approved datasets",
        description="Datasets the data council approved on-chain and has not revoked.",
        responses=OutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            pagination=self.pagination_class(),
            serializer_class=self.OutputSerializer,
            queryset=selectors.approved_datasets(),
            request=request,
        )
