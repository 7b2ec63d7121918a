"""The model registry: PostgreSQL schema, versions, production pointers, catalogue."""

from sigmawatch.registry.catalogue import CatalogueQuery, search
from sigmawatch.registry.embedded import start_embedded
from sigmawatch.registry.records import ACTIVE, ARCHIVED, NewVersion, SeriesRecord, VersionRecord
from sigmawatch.registry.store import CHANNEL, Registry

__all__ = [
    "ACTIVE",
    "ARCHIVED",
    "CHANNEL",
    "CatalogueQuery",
    "NewVersion",
    "Registry",
    "SeriesRecord",
    "VersionRecord",
    "search",
    "start_embedded",
]
