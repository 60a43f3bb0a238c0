"""What every public API endpoint shares.

- One error shape, `{"detail": "<one readable sentence>", "code": "<stable code>"}`, for every
  status the API answers, including every `ApplicationError` a service raises
  (REST_FRAMEWORK["EXCEPTION_HANDLER"] = exception_handler).
- Pagination that refuses a bad `page` or `page_size` with 400 instead of guessing.
- The OpenAPI hook that documents those error answers on every operation, in one place
  (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.paginator import EmptyPage
from django.db.models import QuerySet
from django.http import Http404, UnreadablePostError
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from synod.common.errors import ApplicationError

# --- Errors ---------------------------------------------------------------------------------


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """For an operation's own error answers, e.g. `OpenApiResponse(ErrorSerializer, ...)`."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text="A stable, machine-readable name of the refusal.")


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def error_message(detail: Any) -> str:
    """One readable sentence from a DRF error detail, naming each refused field:
    {"page": ["Ensure this value is greater than or equal to 1."]} becomes
    "page: Ensure this value is greater than or equal to 1."."""
    parts = [f"{path}: {message}" if path else message for path, message in _flatten(detail, "")]
    return " ".join(parts) or "Invalid request."


def _flatten(detail: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            # Errors of the whole object rather than of one field carry no field name.
            name = "" if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
            yield from _flatten(value, f"{path}.{name}" if path and name else path or name)
    elif isinstance(detail, Sequence) and not isinstance(detail, str):
        nested = any(isinstance(item, Mapping | list) for item in detail)
        for index, item in enumerate(detail):
            # A list of objects (or of lists) is addressed by position: items[2].name.
            yield from _flatten(item, f"{path}[{index}]" if nested else path)
    else:
        yield path, str(detail)


def _as_api_exception(exc: Exception) -> Exception:
    """Django's refusals (a missing object, a denial, a request's size or shape) as the API
    errors they are; anything else unchanged."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return RequestTooLarge(f"The request body is too large: at most {limit} bytes.")
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return exceptions.ParseError(f"Too many query or form fields: at most {limit}.")
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return exceptions.ParseError(f"Too many files: at most {limit}.")
    if isinstance(exc, SuspiciousOperation | UnreadablePostError):
        return exceptions.ParseError("The request could not be read.")
    return exc


def _error_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After, rollback), with every body made
    exactly `{"detail": "...", "code": "..."}`; a service's `ApplicationError` answers its own
    status and code. Anything else is a bug: None lets Django's handler500 answer (a JSON 500
    under /api/) and log the traceback."""
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(exc.as_dict(), status=exc.status_code, headers=exc.headers())
    original = exc
    exc = _as_api_exception(exc)
    if exc is not original and isinstance(original, SuspiciousOperation):
        # Django logs these to django.security when it handles them; here the API does.
        logging.getLogger(f"django.security.{type(original).__name__}").warning(
            "%s", original, extra={"status_code": 400, "request": context.get("request")}
        )
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = {"detail": error_message(exc.detail), "code": _error_code(exc)}
    return response


# --- Query parameters -----------------------------------------------------------------------


def query_parameters(request: Request) -> dict[str, str]:
    """The query string as a plain dict (the last value of a repeated name) for a serializer.

    Not the QueryDict itself: a serializer reads a QueryDict as an HTML form and takes an empty
    value of an optional field as "not sent", so `?council=` or `?page_size=` would slip by.
    """
    return request.query_params.dict()


def choice_parameter(values: Sequence[str], **kwargs: Any) -> serializers.ChoiceField:
    """A ChoiceField whose refusal lists the values it takes (an empty value is refused too)."""
    listed = ", ".join(values)
    return serializers.ChoiceField(
        choices=list(values),
        error_messages={"invalid_choice": f'"{{input}}" is not one of: {listed}.'},
        **kwargs,
    )


# --- Pagination -----------------------------------------------------------------------------


class PageParametersSerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False)

    def __init__(self, *args: Any, max_page_size: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each endpoint has its own largest page.
        self.fields["page_size"] = serializers.IntegerField(
            min_value=1, max_value=max_page_size, required=False
        )


class ValidatedPageNumberPagination(PageNumberPagination):
    """`page` (from 1) and `page_size` (1 to max_page_size); anything else is a 400 naming
    the parameter, never a silent fallback to the defaults. A page past the last is a 404."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    last_page_strings = ()

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        parameters = PageParametersSerializer(
            data=query_parameters(request), max_page_size=self.max_page_size
        )
        parameters.is_valid(raise_exception=True)
        page_number = parameters.validated_data.get("page", 1)
        page_size = parameters.validated_data.get("page_size", self.page_size)
        self.request = request
        paginator = self.django_paginator_class(queryset, page_size)
        try:
            self.page = paginator.page(page_number)
        except EmptyPage:
            raise exceptions.NotFound(
                f"page: there is no page {page_number}; the last is {paginator.num_pages}."
            ) from None
        return list(self.page)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page, 1 to {self.max_page_size}.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
            },
        ]


def paginated_response(
    *,
    pagination: ValidatedPageNumberPagination,
    serializer_class: type[serializers.Serializer],
    queryset: QuerySet,
    request: Request,
) -> Response:
    """One page of `queryset`, rendered by `serializer_class`, in the paginator's envelope."""
    page = pagination.paginate_queryset(queryset, request)
    return pagination.get_paginated_response(serializer_class(page, many=True).data)


# --- OpenAPI --------------------------------------------------------------------------------

ERROR_SCHEMA = {
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

# Answers any operation can give, with the headers that always come with them.
COMMON_ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": (
        "The request is refused: a parameter (named in `detail`) is invalid, there are too "
        "many query or form fields, or the body is not valid JSON.",
        {},
    ),
    "404": ("Nothing here: no such object, or a page past the last one.", {}),
    "405": (
        "This path does not take that method.",
        {"Allow": {"description": "The methods this path takes.", "schema": {"type": "string"}}},
    ),
    "406": ("The Accept header asks for something other than JSON.", {}),
    "413": ("The request body is larger than the server accepts.", {}),
    "429": (
        "Too many requests: per user (all of their keys together), per client address "
        "without a key, and stricter per client address for failed authentication.",
        {
            "Retry-After": {
                "description": "Seconds until the limit resets.",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    ),
}
# Where an operation declares security: a key that is sent is checked, even where none is needed.
KEY_REFUSED_ERROR = (
    "The API key is unknown, malformed, revoked or expired, or its account is disabled.",
    {},
)
AUTH_REQUIRED_ERROR = (
    "No credentials: send `Authorization: Bearer <api key>`.",
    {
        "WWW-Authenticate": {
            "description": "How to authenticate: `Bearer`.",
            "schema": {"type": "string"},
        }
    },
)
BODY_ERRORS = {"415": ("The body's media type is not application/json.", {})}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def document_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: adds the error answers every operation can give
    (and 401 where a key is required) with the `Error` body, unless the operation already
    describes that status itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = copy.deepcopy(
        ERROR_SCHEMA
    )
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            errors = dict(COMMON_ERRORS)
            security = operation.get("security", [])
            if security:
                errors["403"] = KEY_REFUSED_ERROR
            if security and {} not in security:
                errors["401"] = AUTH_REQUIRED_ERROR
            if "requestBody" in operation:
                errors.update(BODY_ERRORS)
            responses = operation.setdefault("responses", {})
            for code, (description, headers) in errors.items():
                responses.setdefault(code, _error_response(description, headers))
            operation["responses"] = dict(sorted(responses.items()))
    return result


def _error_response(description: str, headers: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = {
            name: {**copy.deepcopy(header), "required": True} for name, header in headers.items()
        }
    return response
