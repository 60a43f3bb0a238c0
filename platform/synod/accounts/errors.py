"""Refusals of the accounts app: sign-in and API keys. Each class carries its HTTP status;
the common handlers answer them (see synod.common.errors)."""

from __future__ import annotations

from synod.common import errors


class AccountError(errors.ApplicationError):
    """A request the accounts services refuse."""

    code = "account_refused"


class RequestBodyInvalid(AccountError, errors.InvalidInput):
    code = "invalid_body"


class RequestBodyTooLarge(AccountError, errors.TooLarge):
    code = "body_too_large"


class SignInRejected(AccountError):
    """A sign-in that failed a check. Nothing was created and the nonce was not consumed."""

    code = "sign_in_rejected"


class SignatureMismatch(SignInRejected):
    status_code = 401
    code = "signature_mismatch"


class NonceUnusable(SignInRejected, errors.NotAllowed):
    code = "nonce_unusable"


class AccountDisabled(SignInRejected, errors.NotAllowed):
    code = "account_disabled"


class SignInMessageTooLong(SignInRejected, errors.TooLarge):
    code = "message_too_long"


class ApiKeyRefused(AccountError):
    code = "api_key_refused"


class ApiKeyConflict(ApiKeyRefused, errors.Conflict):
    code = "api_key_conflict"
