"""Charts drawn as plain SVG geometry (no chart library, no CDN, no inline styles: the CSP forbids
them), rendered by the templates from the numbers computed here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BAR_HEIGHT = 26
BAR_GAP = 8
LABEL_WIDTH = 180
BAR_AREA = 420
VALUE_WIDTH = 180


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    y: int
    width: float
    share: float


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    bar_area: int
    bar_height: int
    total: float
    unit: str


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if value == 1 and unit.endswith("s"):
        unit = unit[:-1]  # "1 ballot", not "1 ballots"
    return f"{int(value)} {unit}" if float(value).is_integer() else f"{value:g} {unit}"


def bar_chart(items: Sequence[tuple[str, float]], unit: str = "") -> BarChart:
    """Horizontal bars scaled to the largest value (zero-length for 0)."""
    values = [float(v) for _, v in items]
    top = max(values, default=0.0)
    total = sum(values)
    bars = tuple(
        Bar(
            label=str(label),
            value=v,
            text=_fmt(v, unit) + (f" ({100 * v / total:.1f} %)" if unit != "s" and total else ""),
            y=i * (BAR_HEIGHT + BAR_GAP),
            width=(BAR_AREA * v / top) if top > 0 else 0.0,
            share=(v / total) if total else 0.0,
        )
        for i, ((label, _), v) in enumerate(zip(items, values, strict=True))
    )
    height = max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP)
    return BarChart(bars, LABEL_WIDTH + BAR_AREA + VALUE_WIDTH, height, LABEL_WIDTH, BAR_AREA,
                    BAR_HEIGHT, total, unit)


def flatten_timings(timings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    """``{phase: seconds}`` (possibly nested, e.g. per hop) as ``[("phase/sub", seconds)]``;
    non-numeric values and rates (``*_per_s``, not durations) are left out."""
    out: list[tuple[str, float]] = []
    for key, value in timings.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool) or str(key).endswith("_per_s"):
            continue
        if isinstance(value, (int, float)):
            out.append((name, float(value)))
        elif isinstance(value, Mapping):
            out.extend(flatten_timings(value, name + " / "))
    return out
