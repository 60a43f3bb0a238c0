from __future__ import annotations

from django import forms
from django.conf import settings

from synod.registry.models import DatasetFormat, ModelTask
from synod.registry.storage import format_bytes


def _split_columns(value: str) -> list[str]:
    return [column.strip() for column in value.split(",") if column.strip()]


class DatasetUploadForm(forms.Form):
    file = forms.FileField(
        help_text=(
            "CSV, JSON Lines or Parquet, up to "
            f"{format_bytes(settings.REGISTRY_MAX_DATASET_BYTES)}."
        )
    )
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    input_columns = forms.CharField(
        help_text="Comma-separated, in the order a model takes them (e.g. a, b, c)."
    )
    label_column = forms.CharField(
        required=False, help_text="The target (classification, regression) or pair label."
    )
    format = forms.ChoiceField(
        choices=[("", "From the file name"), *DatasetFormat.choices], required=False
    )

    def clean_input_columns(self) -> list[str]:
        columns = _split_columns(self.cleaned_data["input_columns"])
        if not columns:
            raise forms.ValidationError("Name at least one input column.")
        return columns


class ModelUploadForm(forms.Form):
    file = forms.FileField(
        help_text=f"An ONNX model, up to {format_bytes(settings.REGISTRY_MAX_MODEL_BYTES)}."
    )
    name = forms.CharField(max_length=200)
    version = forms.CharField(max_length=50)
    task = forms.ChoiceField(choices=ModelTask.choices)
    price_per_call = forms.IntegerField(min_value=0, help_text="Intended price, in tickets.")
    dataset_sha256 = forms.ChoiceField(
        label="Dataset", help_text="The dataset it was trained or evaluated on."
    )
    tokenizer = forms.FileField(
        required=False, help_text="tokenizer.json, for text embedding models."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, dataset_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset_sha256"].choices = dataset_choices


class EvaluationRequestForm(forms.Form):
    dataset_sha256 = forms.ChoiceField(label="Dataset")
    rerun = forms.BooleanField(required=False, label="Run again even if already evaluated")

    def __init__(self, *args, dataset_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset_sha256"].choices = dataset_choices
