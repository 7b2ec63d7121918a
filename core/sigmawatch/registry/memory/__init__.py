"""The registry in memory: the same contract as PostgreSQL, for fast tests."""

from sigmawatch.registry.memory.registry import MemoryRegistry

__all__ = ["MemoryRegistry"]
