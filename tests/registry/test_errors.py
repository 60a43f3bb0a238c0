"""Every registry refusal is an ApplicationError: its status and code are what the common
handlers answer (the API's exception handler, the pages' middleware)."""

from __future__ import annotations

import pytest

from synod.common import errors as common
from synod.registry import errors


@pytest.mark.parametrize(
    ("refusal", "status", "code", "generic"),
    [
        (errors.InvalidSha256, 400, "invalid_sha256", common.InvalidInput),
        (errors.InvalidModelFile, 400, "invalid_model_file", common.InvalidInput),
        (errors.InvalidDatasetFile, 400, "invalid_dataset_file", common.InvalidInput),
        (errors.IncompatibleModel, 422, "incompatible_model", errors.RegistryError),
        (errors.EvaluationFailed, 422, "evaluation_failed", errors.RegistryError),
        (errors.DuplicateName, 409, "duplicate_name", common.Conflict),
        (errors.UploadTooLarge, 413, "upload_too_large", common.TooLarge),
        (errors.DatasetTooLarge, 413, "dataset_too_large", errors.UploadTooLarge),
        (errors.UploadQuotaExceeded, 413, "upload_quota_exceeded", common.TooLarge),
    ],
)
def test_each_refusal_says_its_status_and_code(refusal, status, code, generic) -> None:
    exc = refusal("The file is not a readable ONNX model. Nothing was stored.")
    assert isinstance(exc, errors.RegistryError) and isinstance(exc, generic)
    assert (exc.status_code, exc.code) == (status, code)
    assert str(exc) == exc.detail
    assert exc.as_dict() == {"detail": exc.detail, "code": code}
    assert exc.headers() == {}


def test_the_upload_rate_refusal_says_when_to_come_back() -> None:
    exc = errors.UploadRateExceeded("The next upload is possible in 5 minutes.", retry_after_s=300)
    assert isinstance(exc, common.RateLimited)
    assert (exc.status_code, exc.code) == (429, "upload_rate_exceeded")
    assert exc.retry_after_s == 300
    assert exc.headers() == {"Retry-After": "300"}


def test_the_base_class_is_a_bad_request() -> None:
    exc = errors.RegistryError("Unknown approval kind 'x'.")
    assert isinstance(exc, common.ApplicationError)
    assert (exc.status_code, exc.code) == (400, "registry_refused")
