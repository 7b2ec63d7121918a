"""`python -m sigmawatch_operator`: run the operator (one namespace, or all).

Settings come from SIGMAWATCH_* (registry, artifacts) and
SIGMAWATCH_OPERATOR_* (Jobs, metrics, peering) environment variables.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import kopf

from sigmawatch import tracing
from sigmawatch.logs import configure_logging
from sigmawatch.settings import ConfigError, StorageSettings, load_settings
from sigmawatch.training_job import Exit
from sigmawatch_operator.app import OperatorApp
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.handlers import register
from sigmawatch_operator.kube import load_config


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="sigmawatch-operator", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--liveness", default="http://0.0.0.0:8080/healthz", help="kopf liveness endpoint"
    )
    parser.add_argument(
        "--namespace",
        action="append",
        help="watch only this namespace (repeatable); default: every namespace",
    )
    args = parser.parse_args()
    try:
        settings = load_settings(StorageSettings)
        config = load_settings(OperatorConfig)
        tracing.parse_config(os.environ, "sigmawatch-operator")  # OBS-5: refuse bad OTEL_*
    except ConfigError as exc:
        print(f"sigmawatch-operator: {exc}", file=sys.stderr)
        raise SystemExit(Exit.INVALID) from None
    configure_logging(settings, "sigmawatch-operator")
    tracing.configure("sigmawatch-operator")
    logging.getLogger("kopf").setLevel(max(logging.getLogger().level, logging.INFO))
    load_config()
    handlers = kopf.OperatorRegistry()
    app = OperatorApp(settings, config, namespaced=bool(args.namespace))
    register(handlers, app)
    kopf.run(
        registry=handlers,
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),
        liveness_endpoint=args.liveness,
        standalone=False,
    )


if __name__ == "__main__":
    main()
