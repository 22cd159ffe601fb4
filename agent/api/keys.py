"""API keys: bearer tokens with a scope, stored only as their SHA-256 digest.

A token is ``vk_`` plus 32 random bytes (URL-safe base64); it is shown once when created.
Redis keeps ``sha256(token)`` -> the key's id, name and scope, so a leaked database does
not leak usable tokens, and a lookup is one HGET.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from enum import StrEnum
from typing import cast

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from streams.bus.keys import Keys

TOKEN_PREFIX = "vk_"  # noqa: S105 (a prefix, not a secret)


class Scope(StrEnum):
    READ = "read"
    ADMIN = "admin"

    def grants(self, required: Scope) -> bool:
        return self is Scope.ADMIN or required is Scope.READ


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1, max_length=100)
    scope: Scope
    created_at: float


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.api_keys

    async def create(self, name: str, scope: Scope) -> tuple[ApiKey, str]:
        """A new key and its token; the token is not kept and cannot be shown again."""
        token = new_token()
        digest = token_digest(token)
        key = ApiKey(id=f"key_{digest[:12]}", name=name, scope=scope, created_at=time.time())
        await self._client.hset(self._key, digest, key.model_dump_json())
        return key, token

    async def lookup(self, token: str) -> ApiKey | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = token_digest(token)
        document = await self._client.hget(self._key, digest)
        if document is None:
            return None
        key = ApiKey.model_validate_json(document)
        # The digest found the record; comparing ids again in constant time costs nothing.
        return key if hmac.compare_digest(key.id, f"key_{digest[:12]}") else None

    async def all(self) -> list[ApiKey]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key))
        keys = [ApiKey.model_validate_json(document) for document in raw.values()]
        return sorted(keys, key=lambda key: key.created_at)

    async def revoke(self, key_id: str) -> bool:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._key))
        for digest, document in raw.items():
            if ApiKey.model_validate_json(document).id == key_id:
                return bool(await self._client.hdel(self._key, digest))
        return False
