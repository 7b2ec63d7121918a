"""Durations as written in specs: 30s, 15m, 12h, 7d, or combined (1d12h)."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in `text`; ValueError when it is not a duration."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 12h, 7d)")
    return sum(int(n) * _UNITS[u] for n, u in parts)
