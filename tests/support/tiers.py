"""Tiers that need an external tool: run in CI, skip loudly elsewhere.

On a developer machine without (say) Chromium a tier skips and the test
summary lists it under SKIPPED TIERS; in CI (`CI=true`) the same condition
fails the test, so CI never passes with a tier silently missing.
"""

from __future__ import annotations

import os

import pytest

SKIPPED_TIERS: list[str] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(available: bool, tier: str, reason: str) -> None:
    if available:
        return
    message = f"{tier} tier cannot run here: {reason}"
    if in_ci():
        pytest.fail(message + " (CI must run every tier)", pytrace=False)
    if message not in SKIPPED_TIERS:
        SKIPPED_TIERS.append(message)
    pytest.skip(message)
