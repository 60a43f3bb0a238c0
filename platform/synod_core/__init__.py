"""synod_core: what runs a model and speaks to providers, with no web platform around it.

ONNX inspection (hostile files refused), input feeds checked against a model's signature,
onnxruntime sessions with an ordered execution-provider preference, batching, EIP-712
provider receipts, the job wire format and the contracts' ABIs. A provider machine installs
this package (the `[worker]` extra) without the platform; the platform uses it too.

This package must never import Django, Celery, Django REST framework or anything from
`synod`: a provider worker has none of them, and tests/core/test_no_django.py checks it.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
