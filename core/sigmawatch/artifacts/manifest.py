"""A model version's artifact: a JSON manifest plus `.npy` arrays, hash-checked.

Layout under the version's prefix:

    manifest.json     detector kind, params and learned state, stats, and the
                      sha256 of every array file
    timestamps.npy    last N training timestamps (int64), for /plot
    values.npy        last N training values (float64), for /plot

The registry row stores the manifest's sha256, so a load verifies the
manifest and the manifest verifies the arrays. Arrays load with
`allow_pickle=False`: the bytes are data, never code.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from sigmawatch import tracing
from sigmawatch.artifacts.base import ArtifactStore
from sigmawatch.errors import ErrorCode, SigmawatchError

FORMAT = "sigmawatch.model/1"
MANIFEST = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npy_bytes(array: npt.NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class StoredModel:
    prefix: str
    manifest_sha256: str
    manifest: dict[str, Any]
    nbytes: int = 0  # written: the arrays and the manifest


def write_model(
    store: ArtifactStore,
    prefix: str,
    manifest: dict[str, Any],
    arrays: dict[str, npt.NDArray[Any]],
) -> StoredModel:
    """Write the arrays, then the manifest that vouches for them.

    The manifest goes last, so a half-written artifact has no manifest and
    is never mistaken for a complete one.
    """
    with tracing.child("artifact.write", {tracing.ARTIFACT_KEY: prefix}) as span:
        stored = _write_model(store, prefix, manifest, arrays)
        span.set_attribute(tracing.ARTIFACT_BYTES, stored.nbytes)
        return stored


def _write_model(
    store: ArtifactStore,
    prefix: str,
    manifest: dict[str, Any],
    arrays: dict[str, npt.NDArray[Any]],
) -> StoredModel:
    files: dict[str, dict[str, Any]] = {}
    written = 0
    for name, array in arrays.items():
        data = _npy_bytes(array)
        store.put(f"{prefix}{name}.npy", data)
        written += len(data)
        files[name] = {
            "file": f"{name}.npy",
            "sha256": sha256(data),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }
    document = {"format": FORMAT, **manifest, "files": files}
    encoded = orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    store.put(prefix + MANIFEST, encoded)
    return StoredModel(prefix, sha256(encoded), document, written + len(encoded))


def _corrupt(message: str, **details: Any) -> SigmawatchError:
    return SigmawatchError(ErrorCode.ARTIFACT_CORRUPT, message, **details)


def read_manifest(store: ArtifactStore, prefix: str, expected_sha256: str) -> dict[str, Any]:
    with tracing.child("artifact.read", {tracing.ARTIFACT_KEY: prefix + MANIFEST}) as span:
        data = store.get(prefix + MANIFEST)
        span.set_attribute(tracing.ARTIFACT_BYTES, len(data))
    actual = sha256(data)
    if actual != expected_sha256:
        raise _corrupt("manifest hash mismatch", prefix=prefix, expected=expected_sha256)
    document: dict[str, Any] = orjson.loads(data)
    if document.get("format") != FORMAT:
        raise _corrupt("unknown artifact format", prefix=prefix, format=document.get("format"))
    return document


def read_array(store: ArtifactStore, prefix: str, manifest: dict[str, Any], name: str) -> Any:
    entry = manifest["files"][name]
    with tracing.child("artifact.read", {tracing.ARTIFACT_KEY: prefix + entry["file"]}) as span:
        data = store.get(prefix + entry["file"])
        span.set_attribute(tracing.ARTIFACT_BYTES, len(data))
    if sha256(data) != entry["sha256"]:
        raise _corrupt("array hash mismatch", prefix=prefix, file=entry["file"])
    array = np.load(io.BytesIO(data), allow_pickle=False)
    if array.dtype.str != entry["dtype"] or list(array.shape) != entry["shape"]:
        raise _corrupt("array does not match its manifest", prefix=prefix, file=entry["file"])
    return array
