"""One signed POST to a receiver: timeouts, a response-size limit, no redirects."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

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


def http_client(settings: WebhookSettings, connections: int = 1000) -> aiohttp.ClientSession:
    """One session for all deliveries: keep-alive, no redirects, cookies or proxies from the env.

    Requests go to the checked address itself (see ``ssrf``), so the connector never
    resolves a name; bodies are read raw (no decompression) for the size limit.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0),
        timeout=aiohttp.ClientTimeout(total=None),  # ``deliver`` bounds the whole try
        headers={"user-agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        trust_env=False,
    )


async def deliver(
    client: aiohttp.ClientSession,
    settings: WebhookSettings,
    url: str,
    secret: str,
    message_id: str,
    body: bytes,
) -> Attempt:
    started = time.perf_counter()
    try:
        status = await _post(client, settings, url, secret, message_id, body)
    except TargetRefusedError as error:
        return Attempt(False, None, f"refused: {error}", _ms(started))
    except TimeoutError:
        return Attempt(False, None, f"timed out after {settings.timeout_s:g} s", _ms(started))
    except (aiohttp.ClientError, OSError, _TooLargeError) as error:
        return Attempt(False, None, f"{type(error).__name__}: {error}"[:500], _ms(started))
    return Attempt(200 <= status < 300, status, _status_error(status), _ms(started))


async def _post(
    client: aiohttp.ClientSession,
    settings: WebhookSettings,
    url: str,
    secret: str,
    message_id: str,
    body: bytes,
) -> int:
    async with asyncio.timeout(settings.timeout_s):
        target = await resolve_target(url, settings)
        headers = signed_headers(secret, message_id, int(time.time()), body)
        headers["host"] = target.host_header
        async with client.post(
            target.connect_url,
            data=body,
            headers=headers,
            allow_redirects=False,
            server_hostname=target.tls_name,
        ) as response:
            await _drain(response, settings.max_response_bytes)
            return response.status


class _TooLargeError(Exception):
    pass


async def _drain(response: aiohttp.ClientResponse, limit: int) -> None:
    received = 0
    async for chunk in response.content.iter_any():
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
