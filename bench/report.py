"""Summary rows, number formatting and the table every benchmark prints."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the summary: a measurement, its same-run baseline and their ratio."""

    bench: str
    case: str
    measured: str
    baseline: str
    versus: str  # a ratio (0.58×), a difference (+2.9 ms) or a verdict


def median(values: Iterable[float]) -> float:
    return statistics.median(values)


def rate(per_second: float, unit: str = "/s") -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f}M{unit}"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f}k{unit}"
    return f"{per_second:.0f}{unit}"


def ms(milliseconds: float) -> str:
    if milliseconds < 1:
        return f"{milliseconds * 1000:.0f} µs"
    return f"{milliseconds:.1f} ms" if milliseconds < 100 else f"{milliseconds:.0f} ms"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}×" if baseline else "n/a"


def delta_ms(value: float, baseline: float) -> str:
    sign = "+" if value >= baseline else "−"
    return sign + ms(abs(value - baseline))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, text_columns: int = 1) -> str:
    """A plain-text table: the first `text_columns` left-aligned, the numbers right-aligned."""
    body = [list(headers), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in body) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(body[0]), rule, *(line(r) for r in body[1:])])


def summary(rows: Sequence[Row]) -> str:
    return table(
        ("benchmark", "case", "measured", "baseline", "vs baseline"),
        ((r.bench, r.case, r.measured, r.baseline, r.versus) for r in rows),
        text_columns=2,
    )
