"""Every error leaves as `{"error": {"code", "message", "details"}}` (USE-4)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.responses import OrjsonResponse, error_response

log = logging.getLogger(__name__)

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}
CLIENT_GONE = 499  # never sent; what request metrics count such requests under


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """Every method some route takes at this path: Starlette's 405 names only the first
    route's, and GET and POST of one path are two routes here."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def install(app: FastAPI, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
    """Error handlers for `app`; `routes` are the API's, whose methods a 405 names."""

    def answer(request: Request, error: SigmawatchError) -> OrjsonResponse:
        route: Any = request.scope.get("route")
        metrics.errors.labels(getattr(route, "path", "unmatched"), error.code.value).inc()
        return error_response(error)

    @app.exception_handler(SigmawatchError)
    async def domain_error(request: Request, exc: SigmawatchError) -> OrjsonResponse:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> OrjsonResponse:
        problems = [
            {"location": list(e.get("loc", ())), "problem": e.get("msg")} for e in exc.errors()
        ]
        return answer(
            request,
            SigmawatchError(
                ErrorCode.INVALID_REQUEST, "request parameters are invalid", problems=problems
            ),
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> OrjsonResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        response = answer(request, SigmawatchError(code, str(exc.detail), path=request.url.path))
        response.status_code = exc.status_code
        if exc.status_code == 405:
            response.headers["allow"] = allowed_methods(routes, request.scope)
        elif exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client left, or a body timeout cut it off (http_server.py), before
        # its body arrived: nobody to answer, and no error of the service's.
        log.info("client gone before its request body arrived", extra={"path": request.url.path})
        return Response(status_code=CLIENT_GONE)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> OrjsonResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return answer(
            request,
            SigmawatchError(
                ErrorCode.INTERNAL_ERROR, "internal error; the service log has details"
            ),
        )
