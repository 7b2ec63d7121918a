"""Reading training data from files: CSV, .npy and .npz (never pickles).

- CSV: a header line, then `timestamp,value` rows.
- .npy: a structured array with `timestamp` (int) and `value` (float) fields.
- .npz: arrays named `timestamps` and `values`.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.errors import ErrorCode, SigmawatchError

_CSV_DTYPE = np.dtype([("timestamp", "<i8"), ("value", "<f8")])


def _bad(name: str, reason: str) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.INVALID_REQUEST, f"cannot read training data from {name}: {reason}", file=name
    )


def read_training_bytes(data: bytes, name: str) -> tuple[IntArray, FloatArray]:
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".csv":
            rows = np.loadtxt(
                io.StringIO(data.decode()), delimiter=",", skiprows=1, dtype=_CSV_DTYPE, ndmin=1
            )
            return rows["timestamp"], rows["value"]
        if suffix == ".npy":
            array = np.load(io.BytesIO(data), allow_pickle=False)
            if array.dtype.names is None or not {"timestamp", "value"} <= set(array.dtype.names):
                raise _bad(name, "expected a structured array with timestamp and value fields")
            return np.asarray(array["timestamp"]), np.asarray(array["value"])
        if suffix == ".npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                return np.asarray(archive["timestamps"]), np.asarray(archive["values"])
    except SigmawatchError:
        raise
    # A truncated or corrupt file is bad data for that series, never a crash.
    except (ValueError, KeyError, UnicodeDecodeError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(name, str(exc)) from None
    raise _bad(name, "use a .csv, .npy or .npz file")


def read_training_file(path: Path) -> tuple[IntArray, FloatArray]:
    try:
        return read_training_bytes(path.read_bytes(), path.name)
    except FileNotFoundError:
        raise _bad(str(path), "no such file") from None


def write_training_file(path: Path, timestamps: IntArray, values: FloatArray) -> None:
    """The inverse of `read_training_file`, used by `sigmawatch demo`."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = np.empty(timestamps.size, dtype=_CSV_DTYPE)
        rows["timestamp"], rows["value"] = timestamps, values
        np.savetxt(
            path, rows, delimiter=",", fmt=("%d", "%.6f"), header="timestamp,value", comments=""
        )
    elif suffix == ".npy":
        rows = np.empty(timestamps.size, dtype=_CSV_DTYPE)
        rows["timestamp"], rows["value"] = timestamps, values
        np.save(path, rows, allow_pickle=False)
    elif suffix == ".npz":
        path.write_bytes(training_npz_bytes(timestamps, values))
    else:
        raise _bad(path.name, "use a .csv, .npy or .npz file")


def training_npz_bytes(timestamps: IntArray, values: FloatArray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, timestamps=timestamps, values=values)
    return buffer.getvalue()
