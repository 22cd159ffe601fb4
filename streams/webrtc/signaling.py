"""The WHEP HTTP exchange, and the endpoint that a ``whep://`` camera URL names.

``whep://host:port/path`` is ``http://host:port/path``, ``wheps://`` is ``https://``; a
bearer token comes from the URL's password or its ``token`` parameter and travels only
in the ``Authorization`` header. A session is opened by POSTing an SDP offer
(``application/sdp``) and answered with 201, the SDP answer and a ``Location`` resource
URL; a DELETE of that resource hangs up.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from streams.decode.source_types import SourceError
from streams.urls import TOKEN_PARAMETER, CameraUrl

log = logging.getLogger(__name__)

SDP_TYPE = "application/sdp"
BODY_EXCERPT_CHARS = 120


@dataclass(frozen=True, slots=True)
class WhepEndpoint:
    url: str  # http(s), without the token
    token: str | None = field(default=None, repr=False)

    def headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if content_type:
            headers["Content-Type"] = content_type
        return headers


@dataclass(frozen=True, slots=True)
class WhepAnswer:
    sdp: str
    resource_url: str


def whep_endpoint(camera: CameraUrl) -> WhepEndpoint:
    parts = urlsplit(camera.raw)
    scheme = "https" if parts.scheme.lower() == "wheps" else "http"
    host = parts.netloc.rpartition("@")[2]
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = urlencode([(k, v) for k, v in query if k.lower() != TOKEN_PARAMETER])
    return WhepEndpoint(urlunsplit((scheme, host, parts.path or "/", kept, "")), camera.password)


async def post_offer(client: httpx.AsyncClient, endpoint: WhepEndpoint, offer: str) -> WhepAnswer:
    """POSTs the offer; the answer and resource, or a SourceError that says what went wrong."""
    try:
        response = await client.post(
            endpoint.url, content=offer.encode(), headers=endpoint.headers(SDP_TYPE)
        )
    except httpx.HTTPError as error:
        raise SourceError(f"WHEP endpoint unreachable: {failure_reason(error)}") from None
    if response.status_code != httpx.codes.CREATED:
        raise SourceError(f"WHEP endpoint answered {status_line(response)}{excerpt(response)}")
    location = response.headers.get("location")
    if not location:
        raise SourceError("WHEP endpoint answered 201 without a Location header")
    if not response.text.startswith("v=0"):
        raise SourceError(f"WHEP endpoint answered 201 without an SDP answer{excerpt(response)}")
    return WhepAnswer(sdp=response.text, resource_url=str(response.url.join(location)))


async def delete_resource(
    client: httpx.AsyncClient, endpoint: WhepEndpoint, resource_url: str
) -> None:
    """Hangs up; best effort, since the session is over either way."""
    try:
        response = await client.delete(resource_url, headers=endpoint.headers())
    except httpx.HTTPError as error:
        log.debug("WHEP hang-up failed: %s", failure_reason(error))
        return
    if response.is_error:
        log.debug("WHEP hang-up answered %s", status_line(response))


def status_line(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def excerpt(response: httpx.Response) -> str:
    """The start of a response body on one line, to show beside an error."""
    text = " ".join(response.text.split())[:BODY_EXCERPT_CHARS]
    return f": {text}" if text else ""


def failure_reason(error: BaseException) -> str:
    """The most telling words for a transport error: the operating system's, if any."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    return str(error) or type(error).__name__
