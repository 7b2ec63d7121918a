"""Every error leaves as `{"error": {"code", "message", "details"}}` (USE-4)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.responses import OrjsonResponse, error_response

log = logging.getLogger(__name__)

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}


def install(app: FastAPI, metrics: Metrics) -> None:
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
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> OrjsonResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return answer(
            request,
            SigmawatchError(
                ErrorCode.INTERNAL_ERROR, "internal error; the service log has details"
            ),
        )
