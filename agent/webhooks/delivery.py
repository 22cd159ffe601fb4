"""One signed POST to a receiver: timeouts, a response-size limit, no redirects."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from agent.webhooks.settings import WebhookSettings
from agent.webhooks.signing import signed_headers
from agent.webhooks.ssrf import TargetRefusedError, resolve_target

USER_AGENT = "Vigil-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    status: int | None
    error: str | None
    duration_ms: float


def http_client(settings: WebhookSettings, connections: int = 1000) -> httpx.AsyncClient:
    """One client for all deliveries: keep-alive, no redirects, no proxies from the env."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.timeout_s),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        headers={"user-agent": USER_AGENT},
    )


async def deliver(
    client: httpx.AsyncClient,
    settings: WebhookSettings,
    url: str,
    secret: str,
    message_id: str,
    body: bytes,
) -> Attempt:
    started = time.perf_counter()
    try:
        status = await asyncio.wait_for(
            _post(client, settings, url, secret, message_id, body), settings.timeout_s
        )
    except TargetRefusedError as error:
        return Attempt(False, None, f"refused: {error}", _ms(started))
    except TimeoutError:
        return Attempt(False, None, f"timed out after {settings.timeout_s:g} s", _ms(started))
    except (httpx.HTTPError, OSError, _TooLargeError) as error:
        return Attempt(False, None, f"{type(error).__name__}: {error}"[:500], _ms(started))
    return Attempt(200 <= status < 300, status, _status_error(status), _ms(started))


async def _post(
    client: httpx.AsyncClient,
    settings: WebhookSettings,
    url: str,
    secret: str,
    message_id: str,
    body: bytes,
) -> int:
    target = await resolve_target(url, settings)
    headers = signed_headers(secret, message_id, int(time.time()), body)
    headers["host"] = target.host_header
    extensions = {"sni_hostname": target.tls_name} if target.tls_name else {}
    request = client.build_request(
        "POST", target.connect_url, content=body, headers=headers, extensions=extensions
    )
    response = await client.send(request, stream=True)
    try:
        await _drain(response, settings.max_response_bytes)
    finally:
        await response.aclose()
    return response.status_code


class _TooLargeError(Exception):
    pass


async def _drain(response: httpx.Response, limit: int) -> None:
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            raise _TooLargeError(f"response body larger than {limit} bytes")


def _status_error(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    return f"HTTP {status}"


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
