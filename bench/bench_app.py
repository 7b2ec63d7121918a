"""The real service plus two do-nothing routes, served exactly like `sigmawatch serve`.

Both return `{}` through the same middleware, router and response class as
the predict routes:
- `POST /bench/empty` declares no parameters: the floor of the stack;
- `POST /bench/params/{series_id}` declares predict's parameters the
  FastAPI way (path `series_id`, optional query `version`): params minus
  empty is what that parameter handling costs. The real predict route reads
  them from the request itself because of this figure.

Run as a script; it only ever binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request

from sigmawatch.logs import configure_logging
from sigmawatch.settings import load_settings
from sigmawatch_inference.app import create_app
from sigmawatch_inference.http_server import uvicorn_options
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.settings import ServiceSettings

EMPTY_PATH = "/bench/empty"
PARAMS_PATH = "/bench/params/{series_id}"


def create_bench_app() -> FastAPI:
    async def empty() -> OrjsonResponse:
        return OrjsonResponse({})

    # Predict's parameters as FastAPI would solve them; the body is not read.
    async def params(series_id: str, request: Request, version: str | None = None) -> Any:
        return OrjsonResponse({})

    # Matched first, so the floor pays no route matching (the predict routes are the
    # service's first); behind BodyLimit, RequestMetrics and the rest like every route.
    router = APIRouter()
    router.add_api_route(EMPTY_PATH, empty, methods=["POST"], include_in_schema=False)
    router.add_api_route(PARAMS_PATH, params, methods=["POST"], include_in_schema=False)
    return create_app(load_settings(ServiceSettings), first=[router])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = load_settings(ServiceSettings, host="127.0.0.1", port=args.port, access_log=False)
    configure_logging(settings, "sigmawatch-inference")
    # The options of sigmawatch_inference.cli.serve (one worker), access log off.
    uvicorn.run(create_bench_app(), **uvicorn_options(settings))


if __name__ == "__main__":
    main()
