"""`vigil up` on a first start: an admin key to sign in with, printed once."""

from __future__ import annotations

import redis.asyncio as aioredis

from agent.api.keys import ApiKeyStore, Scope
from agent.cli.keys import FIRST_KEY_NAME, first_start_key
from streams.bus.keys import Keys


async def test_a_first_start_creates_one_admin_key_and_later_starts_none(
    aclient: aioredis.Redis, keys: Keys
) -> None:
    store = ApiKeyStore(aclient, keys)
    token = await first_start_key(store)
    assert token is not None
    key = await store.lookup(token)
    assert key is not None
    assert (key.name, key.scope) == (FIRST_KEY_NAME, Scope.ADMIN)
    assert await first_start_key(store) is None
    assert len(await store.all()) == 1


async def test_no_key_is_created_where_keys_exist(aclient: aioredis.Redis, keys: Keys) -> None:
    store = ApiKeyStore(aclient, keys)
    await store.create("ops", Scope.READ)
    assert await first_start_key(store) is None
    assert [key.name for key in await store.all()] == ["ops"]
