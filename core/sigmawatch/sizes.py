"""Approximate memory held by a small object graph: what a model cache bounds bytes by."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of `obj` and everything it references, each object counted once.

    Covers what models are made of: containers, dataclasses with or without
    slots, numbers, strings and numpy arrays (their buffers included).
    """
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, np.ndarray):
        return size if obj.base is None else size + obj.nbytes
    if isinstance(obj, str | bytes | int | float | bool | type(None)):
        return size
    if isinstance(obj, dict):
        return size + sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    if isinstance(obj, list | tuple | set | frozenset):
        return size + sum(deep_size(item, seen) for item in obj)
    for name in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, name):
            size += deep_size(getattr(obj, name), seen)
    if hasattr(obj, "__dict__"):
        size += deep_size(vars(obj), seen)
    return size
