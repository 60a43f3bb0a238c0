"""Small charts drawn on the server as inline SVG (no script: the CSP forbids inline code,
and presentation attributes are not styles)."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 150
CHART_WIDTH = 520


def bar_chart(
    bars: list[tuple[str, float]],
    *,
    title: str,
    maximum: float | None = None,
    unit: str = "",
    digits: int = 3,
) -> SafeString:
    """Horizontal bars, one per (label, value); values scale to `maximum` (or the largest)."""
    if not bars:
        return mark_safe("")
    top = maximum if maximum else max((value for _, value in bars), default=0) or 1.0
    plot_width = CHART_WIDTH - LABEL_WIDTH - 70
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {CHART_WIDTH} '
        f'{height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        width = max(0.0, min(1.0, value / top)) * plot_width
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" text-anchor="end" '
            f'font-size="12" fill="#1b1f2a">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{plot_width}" height="{BAR_HEIGHT}" '
            f'rx="4" fill="#eef0f6"/>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
            f'rx="4" fill="#4f46e5"/>'
            f'<text x="{LABEL_WIDTH + plot_width + 6}" y="{y + BAR_HEIGHT * 0.7:.1f}" '
            f'font-size="12" fill="#667085">{value:.{digits}f}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated label is escaped above


def metric_chart(task: str, metrics: dict) -> SafeString:
    """The chart a report page leads with, per task."""
    if task == "classification":
        per_class = metrics.get("per_class", {})
        return bar_chart(
            [(f"class {name} F1", figures["f1"]) for name, figures in per_class.items()]
            + [("accuracy", metrics.get("accuracy", 0.0))],
            title="Per-class F1 and accuracy",
            maximum=1.0,
        )
    if task == "regression":
        return bar_chart(
            [
                (key.upper(), metrics[key])
                for key in ("mae", "rmse")
                if metrics.get(key) is not None
            ],
            title="Regression error",
        )
    bars = [
        (label, metrics[key])
        for key, label in (
            ("mean_cosine_similar", "cosine, similar"),
            ("mean_cosine_dissimilar", "cosine, dissimilar"),
            ("roc_auc", "ROC AUC"),
            ("retrieval_top1_accuracy", "top-1 retrieval"),
        )
        if metrics.get(key) is not None
    ]
    return bar_chart(bars, title="Embedding quality", maximum=1.0)


def latency_chart(timings: dict) -> SafeString:
    latency = timings.get("latency_ms", {})
    bars = [
        (f"{scope.replace('_', ' ')} p{q}", latency.get(scope, {}).get(f"p{q}"))
        for scope in ("per_item", "per_batch")
        for q in (50, 95)
    ]
    return bar_chart(
        [(label, value) for label, value in bars if value is not None],
        title="Latency (ms)",
        unit=" ms",
        digits=2,
    )
