"""The /plot page (MOD-5, USE-1): a version's training window and its band.

The server sends the stored points and the model's band as JSON inside the
page; `static/plot.js`, served by this service (no CDN), draws them as SVG
sized to the window and redraws on resize.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Any

import numpy as np
import orjson

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.artifacts.manifest import read_array, read_manifest
from sigmawatch.loading import load_model
from sigmawatch.registry import VersionRecord
from sigmawatch.registry.rollout_records import Route

PLOT_TEMPLATE = (
    resources.files("sigmawatch_inference").joinpath("templates/plot.html").read_text("utf-8")
)
_TEMPLATE = Template(PLOT_TEMPLATE)


def plot_data(
    record: VersionRecord,
    versions: list[VersionRecord],
    store: ArtifactStore,
    route: Route | None = None,
) -> dict[str, Any]:
    """Everything the chart draws, from the registry row and the artifact; `route` is
    the series' active rollout, as this pod routes it."""
    manifest = read_manifest(store, record.artifact_prefix, record.manifest_sha256)
    timestamps = read_array(store, record.artifact_prefix, manifest, "timestamps")
    values = read_array(store, record.artifact_prefix, manifest, "values")
    model = load_model(record, store)
    scored = model.score(values)
    detector = model.detector or model.fallback
    low, high = detector.bounds()
    return {
        "series_id": record.series_id,
        "version": record.name,
        "status": record.status,
        "production": record.is_production,
        "detector": record.detector.to_dict(),
        "threshold": detector.threshold,
        "fallback": scored.fallback,
        "mean": record.stats["mean"],
        "std": record.stats["std"],
        "band": [low, high],
        "stats": record.stats,
        "n_points": record.n_points,
        "created_at": record.created_at.isoformat(),
        "timestamps": timestamps,
        "values": values,
        "anomalies": np.flatnonzero(scored.anomalies),
        "versions": [
            {
                "version": v.name,
                "status": v.status,
                "production": v.is_production,
                "role": route.role(v.version) if route else None,
            }
            for v in versions
        ],
        "rollout": None
        if route is None
        else route.summary() | {"role": route.role(record.version)},
    }


def _rollout_badge(rollout: dict[str, Any] | None) -> str:
    if rollout is None or rollout["role"] is None:
        return ""
    how = "shadow" if rollout["strategy"] == "shadow" else f"canary {rollout['weight']}%"
    return f"{rollout['role']} · {rollout['rollout']} {how}"


def render_page(data: dict[str, Any]) -> str:
    # `</` must not close the <script> element the JSON sits in.
    payload = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode().replace("</", "<\\/")
    series = html.escape(data["series_id"])
    links = "".join(_version_link(series, v, data["version"]) for v in data["versions"])
    stats = data["stats"]
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{stats[name]:.4g}</td></tr>"
        for name in ("mean", "std", "min", "max", "p1", "p50", "p99")
    )
    return _TEMPLATE.substitute(
        series=series,
        version=html.escape(data["version"]),
        status=html.escape(data["status"]),
        production="production" if data["production"] else "",
        rollout=html.escape(_rollout_badge(data.get("rollout"))),
        kind=html.escape(data["detector"]["kind"]),
        threshold=f"{data['threshold']:g}",
        n_points=data["n_points"],
        shown=len(data["values"]),
        n_anomalies=len(data["anomalies"]),
        created=html.escape(_readable_time(data["created_at"])),
        links=links,
        stats=rows,
        payload=payload,
    )


def _version_link(series: str, entry: dict[str, Any], current: str) -> str:
    classes = "version-link"
    classes += " current" if entry["version"] == current else ""
    classes += " archived" if entry["status"] == "archived" else ""
    version = html.escape(entry["version"])
    mark = " ★" if entry["production"] else ""
    mark += " ◆" if entry.get("role") == "candidate" else ""
    return (
        f'<a class="{classes}" href="/plot?series_id={series}&amp;version={version}">'
        f"{version}{mark}</a>"
    )


def _readable_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
