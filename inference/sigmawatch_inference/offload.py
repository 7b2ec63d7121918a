"""Where a batch's Python work runs: on the event loop when small, else in a worker thread.

Scoring, routing and rendering a batch cost ~20-35 µs of Python an item,
so 10,000 items on the loop would hold every other request, /liveness
included, for a third of a second (SEC-1). A thread still shares the GIL,
but the interpreter hands it to the loop every few milliseconds; below
`OFF_LOOP_ITEMS` (under ~10 ms of work) the hop is not worth its cost.
"""

from __future__ import annotations

from collections.abc import Callable

from anyio import to_thread

OFF_LOOP_ITEMS = 256


async def run[*Args, T](items: int, work: Callable[[*Args], T], *args: *Args) -> T:
    """`work(*args)` for a batch of `items`: in a worker thread from OFF_LOOP_ITEMS on."""
    if items >= OFF_LOOP_ITEMS:
        return await to_thread.run_sync(work, *args)
    return work(*args)
