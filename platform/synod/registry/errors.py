"""Errors the registry reports to people: each message says what was wrong and what
happened (nothing stored), so pages, commands and the API can show it as it is."""

from __future__ import annotations


class RegistryError(Exception):
    """Base class: the message is meant for the person who uploaded or asked."""


class UploadTooLarge(RegistryError):
    pass


class InvalidModelFile(RegistryError):
    pass


class InvalidDatasetFile(RegistryError):
    pass


class IncompatibleModel(RegistryError):
    """The model's inputs do not fit the dataset's declared input columns."""


class DuplicateName(RegistryError):
    """A different file was already uploaded as this name and version."""


class EvaluationFailed(RegistryError):
    pass
