"""The artifact objects a registry snapshot needs, and checking that the store has them.

A backup holds registry rows only: model bytes stay in the object store
(versioned and replicated, DUR-2), which is why a backup lists every object
its versions need with the object's sha256 and says which are missing. The
manifest's hash comes from the version's row; the arrays' hashes from the
manifest itself, as a model load checks them (artifacts/manifest.py).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from sigmawatch.artifacts import ArtifactNotFoundError, ArtifactStore
from sigmawatch.artifacts.manifest import MANIFEST, sha256

# Object store calls wait on the network, not the CPU: run many at once.
WORKERS = 16


class Check(StrEnum):
    HASH = "hash"  # read every object and compare its sha256
    EXISTS = "exists"  # find each object in a listing of the store
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Needed:
    key: str
    sha256: str
    series_id: str
    version: int


@dataclass
class Findings:
    needed: list[Needed] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)

    def add(self, other: Findings) -> None:
        self.needed += other.needed
        self.missing += other.missing
        self.corrupt += other.corrupt

    def sort(self) -> Findings:
        self.needed.sort(key=lambda n: n.key)
        self.missing.sort()
        self.corrupt.sort()
        return self


def present_keys(store: ArtifactStore, keys: Iterable[str]) -> set[str]:
    """Which of the keys' top folders' objects the store has: one listing per folder
    (models/, archive/), not one request per object, so a fleet's check stays short."""
    roots = sorted({key[: key.find("/") + 1] for key in keys})
    present: set[str] = set()
    for root in roots:
        present.update(store.list(root))
    return present


def _one_version(
    store: ArtifactStore, present: set[str], row: tuple[str, int, str, str]
) -> Findings:
    series_id, version, prefix, manifest_sha256 = row
    found = Findings([Needed(prefix + MANIFEST, manifest_sha256, series_id, version)])
    try:
        if prefix + MANIFEST not in present:
            raise ArtifactNotFoundError(prefix + MANIFEST)
        data = store.get(prefix + MANIFEST)
    except ArtifactNotFoundError:
        found.missing.append(prefix + MANIFEST)
        return found
    if sha256(data) != manifest_sha256:
        found.corrupt.append(prefix + MANIFEST)
        return found
    try:
        files = orjson.loads(data)["files"].values()
        arrays = [(prefix + entry["file"], str(entry["sha256"])) for entry in files]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        found.corrupt.append(prefix + MANIFEST)
        return found
    for key, digest in arrays:
        found.needed.append(Needed(key, digest, series_id, version))
        if key not in present:
            found.missing.append(key)
    return found


def _parallel[T](work: Callable[[T], Findings], items: Iterable[T]) -> Findings:
    total = Findings()
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="backup-artifacts") as pool:
        for found in pool.map(work, items):
            total.add(found)
    return total.sort()


def needed_by(store: ArtifactStore, versions: list[tuple[str, int, str, str]]) -> Findings:
    """Every object the versions (series_id, version, prefix, manifest sha256) need."""
    present = present_keys(store, (row[2] for row in versions))
    return _parallel(lambda row: _one_version(store, present, row), versions)


def verify(store: ArtifactStore, needed: list[Needed], check: Check) -> Findings:
    """Which of the listed objects the store lacks or holds with other bytes."""
    if check is Check.SKIP:
        return Findings(list(needed))
    present = present_keys(store, (item.key for item in needed))
    missing = sorted({item.key for item in needed if item.key not in present})
    if check is Check.EXISTS:
        return Findings(list(needed), missing)

    def one(item: Needed) -> Findings:
        found = Findings()
        try:
            if sha256(store.get(item.key)) != item.sha256:
                found.corrupt.append(item.key)
        except ArtifactNotFoundError:  # removed since the listing
            found.missing.append(item.key)
        return found

    hashed = _parallel(one, [item for item in needed if item.key in present])
    return Findings(list(needed), sorted({*missing, *hashed.missing}), hashed.corrupt)


def encode(needed: list[Needed]) -> bytes:
    rows = [[n.key, n.sha256, n.series_id, n.version] for n in needed]
    return gzip.compress(orjson.dumps(rows), mtime=0)


def decode(data: bytes) -> list[Needed]:
    rows: list[list[Any]] = orjson.loads(gzip.decompress(data))
    return [Needed(str(k), str(h), str(s), int(v)) for k, h, s, v in rows]
