"""The model registry: versions, production pointers, retention, catalogue, run outcomes.

`Registry` is the protocol the apps program against; the PostgreSQL
implementation lives in `sigmawatch.registry.postgres` (the only code that
imports the database driver), an in-memory one in `sigmawatch.registry.memory`.
"""

from sigmawatch.registry.catalogue import CatalogueQuery
from sigmawatch.registry.pointer import API, TRAINING, Writer, WriterKind
from sigmawatch.registry.protocol import ChangeFeed, Registry
from sigmawatch.registry.records import (
    ACTIVE,
    ARCHIVED,
    CataloguePage,
    CentreScaleColumns,
    NewVersion,
    PointerMove,
    PointerState,
    Registration,
    RunSummary,
    SeriesRecord,
    VersionRecord,
)

__all__ = [
    "ACTIVE",
    "API",
    "ARCHIVED",
    "TRAINING",
    "CataloguePage",
    "CatalogueQuery",
    "CentreScaleColumns",
    "ChangeFeed",
    "NewVersion",
    "PointerMove",
    "PointerState",
    "Registration",
    "Registry",
    "RunSummary",
    "SeriesRecord",
    "VersionRecord",
    "Writer",
    "WriterKind",
]
