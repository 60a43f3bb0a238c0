from django import template

from synod.governance.actions import KIND_LABELS

register = template.Library()

_STATE_CLASSES = {
    "active": "ok",
    "succeeded": "ok",
    "queued": "warn",
    "executed": "ok",
    "pending": "",
    "defeated": "bad",
    "canceled": "bad",
    "expired": "bad",
}


@register.filter
def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


@register.filter
def state_class(state: str) -> str:
    return _STATE_CLASSES.get(state, "")


@register.filter
def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if address and len(address) > 12 else address


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if mapping else None
