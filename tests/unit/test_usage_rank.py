"""The warm-up's decayed usage rank (MOD-7): ordered as the decayed sums are, at any time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sigmawatch.usage_rank import HALF_LIFE_S, added

NOW = 1_800_000_000.0
uses = st.lists(
    st.tuples(st.integers(1, 10**9), st.floats(0, 90 * 86_400)), min_size=1, max_size=20
)


def rank(history: list[tuple[int, float]]) -> float:
    value = None
    for count, age_s in history:
        value = added(value, count, NOW - age_s)
    assert value is not None
    return value


def decayed(history: list[tuple[int, float]], at: float) -> float:
    return sum(n * 2 ** (-(at - (NOW - age)) / HALF_LIFE_S) for n, age in history)


@given(uses, uses)
def test_the_rank_orders_series_as_their_decayed_use_does(
    a: list[tuple[int, float]], b: list[tuple[int, float]]
) -> None:
    for at in (NOW, NOW + 30 * 86_400):  # whenever the warm-up asks
        high, low = sorted((decayed(a, at), decayed(b, at)))
        if high > low * (1 + 1e-9):
            assert (rank(a) > rank(b)) == (decayed(a, at) > decayed(b, at))


def test_a_count_halves_each_week() -> None:
    assert abs(added(None, 100, NOW) - added(None, 200, NOW - HALF_LIFE_S)) < 1e-9
