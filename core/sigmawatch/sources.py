"""Where a training Job reads each series' data (the AnomalyModel's `source`).

- A URI template, one file per series: `s3://bucket/train/{series_id}.npy`
  or `file:///data/train/{series_id}.csv` (.npy, .npz or .csv).
- The dataset uploaded through the API (`PUT /v1/series/{id}/dataset`),
  kept in the artifact store under `datasets/`.

A selector prefix is resolved by listing the source, so a fleet's series
are the ones whose data exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

from sigmawatch import tracing
from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.artifacts import ArtifactStore, open_store
from sigmawatch.datasets import read_training_bytes, training_npz_bytes
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.validation import SERIES_ID_RE

PLACEHOLDER = "{series_id}"
DATASETS = "datasets/"


@dataclass(frozen=True, slots=True)
class Source:
    """A store plus the key pattern of one series' data in it."""

    store: ArtifactStore
    key_template: str  # contains {series_id}

    def key(self, series_id: str) -> str:
        return self.key_template.replace(PLACEHOLDER, series_id)

    def read(self, series_id: str) -> tuple[IntArray, FloatArray]:
        key = self.key(series_id)
        attributes = {tracing.SERIES_ID: series_id, tracing.ARTIFACT_KEY: key}
        with tracing.child("dataset.read", attributes) as span:  # OBS-5
            data = self.store.get(key)
            span.set_attribute(tracing.ARTIFACT_BYTES, len(data))
        return read_training_bytes(data, key)

    def list_series(self, prefix: str) -> list[str]:
        """Series with data under this source whose id starts with `prefix`."""
        head, _, tail = self.key_template.partition(PLACEHOLDER)
        pattern = re.compile(re.escape(head) + f"({SERIES_ID_RE.pattern})" + re.escape(tail))
        found = []
        for key in self.store.list(head + prefix):
            match = pattern.fullmatch(key)
            if match and match.group(1).startswith(prefix):
                found.append(match.group(1))
        return sorted(found)


def split_source_uri(template: str) -> tuple[str, str]:
    """(store URL, key template): the store is rooted at the folder holding the
    placeholder (or the file). Pure, so a spec can be checked without I/O."""
    head = template[: template.index(PLACEHOLDER)] if PLACEHOLDER in template else template
    base, _, _ = head.rpartition("/")
    parsed = urlparse(base)
    if parsed.scheme not in {"s3", "file"} or not (parsed.netloc or parsed.path.strip("/")):
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "source URI must be s3://bucket/path/... or file:///folder/...",
            uri=template,
        )
    return base, template[len(base) + 1 :]


def uri_source(template: str, *, s3_endpoint_url: str | None, s3_region: str) -> Source:
    base, key_template = split_source_uri(template)
    store = open_store(base, s3_endpoint_url=s3_endpoint_url, s3_region=s3_region)
    return Source(store, key_template)


def dataset_source(store: ArtifactStore) -> Source:
    return Source(store, DATASETS + PLACEHOLDER + ".npz")


def store_dataset(
    store: ArtifactStore, series_id: str, timestamps: IntArray, values: FloatArray
) -> str:
    """Keep a validated training dataset for later training by the operator."""
    key = dataset_source(store).key(series_id)
    store.put(key, training_npz_bytes(timestamps, values))
    return key


def apply_window(
    timestamps: IntArray, values: FloatArray, *, points: int | None, seconds: int | None
) -> tuple[IntArray, FloatArray]:
    """The newest part of the data: at most `points`, no older than `seconds` before the last."""
    start = 0
    if seconds is not None and timestamps.size:
        start = int(np.searchsorted(timestamps, timestamps[-1] - seconds, side="left"))
    if points is not None:
        start = max(start, timestamps.size - points)
    return timestamps[start:], values[start:]
