"""The tracing configuration the standard `OTEL_*` variables describe (OBS-5).

Parsed here, not left to the SDK, so that a value it cannot use stops the
process at start naming the variable (the SDK logs a warning and falls back),
and so that it is a pure function of a mapping, tested without a process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

import sigmawatch
from sigmawatch.settings import ConfigError

EXPORTERS = frozenset({"otlp", "console"})
SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)
DEFAULT_ENDPOINT = "http://localhost:4318"


@dataclass(frozen=True, slots=True)
class TracingConfig:
    exporters: tuple[str, ...]  # empty: tracing off
    endpoint: str
    sampler: str
    ratio: float
    resource: dict[str, str]

    @property
    def enabled(self) -> bool:
        return bool(self.exporters)


def parse_config(environ: Mapping[str, str], service: str) -> TracingConfig:
    """The tracing configuration the OTEL_* variables describe; ConfigError names the bad one."""
    exporters: tuple[str, ...] = ()
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true":
        names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
        names = [n for n in names if n and n != "none"]
        unknown = sorted(set(names) - EXPORTERS)
        if unknown:
            raise ConfigError(
                f"OTEL_TRACES_EXPORTER: {', '.join(unknown)} is not supported "
                f"(use {', '.join(sorted(EXPORTERS))} or none)"
            )
        exporters = tuple(dict.fromkeys(names))
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if "otlp" in exporters and protocol.strip() != "http/protobuf":
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is installed, not {protocol!r}"
        )
    named = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    endpoint = environ.get(named, "").strip()
    if not endpoint:
        named = "OTEL_EXPORTER_OTLP_ENDPOINT"
        base = environ.get(named, "").strip() or DEFAULT_ENDPOINT
        endpoint = base.rstrip("/") + "/v1/traces"
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{named}: {endpoint!r} is not an http(s) URL")
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    if sampler not in SAMPLERS:
        raise ConfigError(f"OTEL_TRACES_SAMPLER: unknown sampler {sampler!r}")
    ratio = 1.0
    if sampler.endswith("traceidratio") and environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip():
        try:
            ratio = float(environ["OTEL_TRACES_SAMPLER_ARG"])
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError("OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1")
    return TracingConfig(exporters, endpoint, sampler, ratio, _resource(environ, service))


def _resource(environ: Mapping[str, str], service: str) -> dict[str, str]:
    """service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES', else this process's."""
    found = {"service.name": service, "service.version": sigmawatch.__version__}
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"OTEL_RESOURCE_ATTRIBUTES: {item!r} is not key=value")
        found[key.strip()] = unquote(value.strip())
    if environ.get("OTEL_SERVICE_NAME", "").strip():
        found["service.name"] = environ["OTEL_SERVICE_NAME"].strip()
    return found
