"""The OpenAPI schema at /api/schema/ is valid OpenAPI 3 and documents every answer the API
gives: the error answers of every operation, and the constraints of every parameter."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from drf_spectacular.validation import validate_schema

ERROR_REF = {"$ref": "#/components/schemas/Error"}
EVERY_OPERATION_ERRORS = {"400", "403", "404", "405", "406", "413", "429"}


@pytest.fixture
def schema() -> dict:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_the_served_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema


def test_the_schema_builds_without_a_warning(tmp_path):
    """drf-spectacular warns where it has to guess (an unknown type, a clashing name)."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_every_operation_documents_its_error_answers(schema):
    assert schema["components"]["schemas"]["Error"] == {
        "type": "object",
        "properties": {
            "detail": {"type": "string", "description": "What went wrong, in words."},
            "code": {"type": "string", "description": "A stable, machine-readable name of it."},
            "errors": {
                "type": "object",
                "description": "Present when the refusal is about fields: messages per field.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
        "required": ["detail", "code"],
        "additionalProperties": False,
    }
    labels = []
    for label, operation in operations(schema):
        labels.append(label)
        responses = operation["responses"]
        assert set(responses) >= EVERY_OPERATION_ERRORS, label
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == ERROR_REF, label
        retry_after = responses["429"]["headers"]["Retry-After"]
        assert retry_after["required"] and retry_after["schema"]["type"] == "integer"
        assert responses["405"]["headers"]["Allow"]["required"]
    assert {"GET /api/v1/models", "GET /api/v1/proposals/{proposal_id}"} <= set(labels)


def test_401_is_documented_exactly_where_a_key_is_needed(schema):
    needs_a_key = {
        label
        for label, operation in operations(schema)
        if operation.get("security") and {} not in operation["security"]
    }
    assert needs_a_key == {"GET /api/v1/account"}
    for label, operation in operations(schema):
        documented = "401" in operation["responses"]
        assert documented == (label in needs_a_key), label
        if documented:
            assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"]


def test_parameters_carry_their_constraints(schema):
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/proposals"]["get"]["parameters"]
    }
    assert parameters["page"] == {"type": "integer", "minimum": 1, "default": 1}
    assert parameters["page_size"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    assert parameters["council"]["enum"] == ["data", "model", "compute"]
    assert "" not in parameters["state"]["enum"] and "executed" in parameters["state"]["enum"]
    assert parameters["proposer"]["pattern"] == "^0x[0-9a-fA-F]{40}$"
    assert parameters["q"]["maxLength"] == 200
    [proposal_id] = [
        p
        for p in schema["paths"]["/api/v1/proposals/{proposal_id}"]["get"]["parameters"]
        if p["in"] == "path"
    ]
    assert proposal_id["schema"]["pattern"] == "^[0-9]{1,78}$"
    models = schema["paths"]["/api/v1/models"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("maximum") for p in models} == {
        "page": None,
        "page_size": 200,
    }
