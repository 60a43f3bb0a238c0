"""Synod: decentralized, community-governed AI inference."""

from synod.config.celery import app as celery_app

__all__ = ["celery_app"]
