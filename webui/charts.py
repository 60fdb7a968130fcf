"""Bar charts for the results page, computed here and drawn by the ``chart`` template macro as an
HTML list: each label is HTML text (it wraps on a phone and is never clipped; Jinja escapes it) and
each bar an SVG rect whose width is a percentage of the largest value. No chart library, no CDN,
no inline styles (the CSP forbids them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    percent: float  # bar length, percent of the largest value (0 for 0)
    share: float  # fraction of the total


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    total: float
    unit: str


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if value == 1 and unit.endswith("s"):
        unit = unit[:-1]  # "1 ballot", not "1 ballots"
    return f"{int(value)} {unit}" if float(value).is_integer() else f"{value:g} {unit}"


def bar_chart(items: Sequence[tuple[str, float]], unit: str = "") -> BarChart:
    """Horizontal bars scaled to the largest value (zero-length for 0); counts also show their
    share of the total."""
    values = [float(v) for _, v in items]
    top = max(values, default=0.0)
    total = sum(values)
    bars = tuple(
        Bar(
            label=str(label),
            value=v,
            text=_fmt(v, unit) + (f" ({100 * v / total:.1f} %)" if unit != "s" and total else ""),
            percent=(100.0 * v / top) if top > 0 else 0.0,
            share=(v / total) if total else 0.0,
        )
        for (label, _), v in zip(items, values, strict=True)
    )
    return BarChart(bars, total, unit)


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
