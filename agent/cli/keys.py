"""``vigil keys``: create, list and revoke API keys in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import typer

from agent.api.keys import ApiKey, ApiKeyStore, Scope
from agent.runtime.config import VigilSettings
from agent.runtime.startup import connect_async, keys_for, redis_url_for

T = TypeVar("T")


def _with_store(settings: VigilSettings, use: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    async def run(url: str) -> T:
        client = connect_async(url, settings.redis_cluster)
        try:
            return await use(ApiKeyStore(client, keys_for(settings)))
        finally:
            await client.aclose()

    with redis_url_for(settings) as url:
        return asyncio.run(run(url))


FIRST_KEY_NAME = "first-start admin"


async def first_start_key(store: ApiKeyStore) -> str | None:
    """On a first start (no API key at all), an admin key, whose token is returned once."""
    if await store.all():
        return None
    _, token = await store.create(FIRST_KEY_NAME, Scope.ADMIN)
    return token


def first_start_banner(settings: VigilSettings, url: str) -> str:
    """What ``vigil up`` prints before anything else: where the dashboard is and, on a
    first start, the admin key created to sign in with (shown this once)."""

    async def run() -> str | None:
        client = connect_async(url, settings.redis_cluster)
        try:
            return await first_start_key(ApiKeyStore(client, keys_for(settings)))
        finally:
            await client.aclose()

    token = asyncio.run(run())
    lines = [f"Vigil dashboard: {settings.api.base_url()}/"]
    if token is None:
        lines.append("Sign in with an API key (`vigil keys create --name NAME --scope admin`).")
    else:
        lines += [
            "First start: an admin API key was created; it is shown this once:",
            f"    {token}",
            "Sign in to the dashboard with it; `vigil keys create` makes more.",
        ]
    rule = "=" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule])


def create_key(settings: VigilSettings, name: str, scope: Scope) -> None:
    key, token = _with_store(settings, lambda store: store.create(name, scope))
    typer.echo(f"created {key.id} ({key.scope.value}) for {key.name}")
    typer.echo(token)
    typer.echo("This token is shown once; send it as `Authorization: Bearer <token>`.", err=True)


def list_keys(settings: VigilSettings) -> None:
    for key in _with_store(settings, lambda store: store.all()):
        typer.echo(_line(key))


def revoke_key(settings: VigilSettings, key_id: str) -> None:
    if not _with_store(settings, lambda store: store.revoke(key_id)):
        typer.echo(f"vigil keys: no key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def _line(key: ApiKey) -> str:
    created = datetime.fromtimestamp(key.created_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{key.id}  {key.scope.value:<5}  {created}  {key.name}"
