"""JSON errors everywhere: one body shape, documented, with no echo of request values.

FastAPI's own validation errors carry the offending input; a camera URL with its password
could be that input, so the 422 body keeps only where and why.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from streams.urls import redact

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """Field errors from request validation, or one message from a route's own checks."""

    detail: list[FieldError] | str


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes a route can answer."""
    return {code: {"model": ValidationErrorBody if code == 422 else ErrorBody} for code in codes}


def field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in item["loc"]],
            "msg": redact(str(item["msg"])),
            "type": str(item["type"]),
        }
        for item in error.errors()
    ]


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": field_errors(error)}, status_code=422)


async def _redis_down(request: Request, error: Exception) -> JSONResponse:
    log.warning("%s %s: Redis unavailable: %s", request.method, request.url.path, error)
    return JSONResponse({"detail": "Redis is unavailable; try again shortly"}, status_code=503)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(aioredis.ConnectionError, _redis_down)
    app.add_exception_handler(aioredis.TimeoutError, _redis_down)
    app.add_exception_handler(Exception, _unexpected)
