"""Rules in Redis: seeded from vigil.yaml, read fresh for every window so edits apply at once."""

from __future__ import annotations

import logging
from typing import cast

import redis.asyncio as aioredis
from pydantic import ValidationError

from agent.pipeline.rules import Rule
from streams.bus.keys import Keys

log = logging.getLogger(__name__)


class RuleStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def seed(self, rules: list[Rule]) -> None:
        """Adds the configured rules that Redis does not hold yet; stored edits win."""
        for rule in rules:
            added = await self._client.hsetnx(self._keys.rules, rule.id, rule.model_dump_json())
            if not added:
                stored = await self.get(rule.id)
                if stored is not None and stored != rule:
                    log.info(
                        "rule %s: keeping the stored version, which differs from the config file",
                        rule.id,
                    )

    async def all(self) -> list[Rule]:
        raw = cast(dict[bytes, bytes], await self._client.hgetall(self._keys.rules))
        rules = []
        for rule_id, document in sorted(raw.items()):
            try:
                rules.append(Rule.model_validate_json(document))
            except ValidationError:
                log.error("rule %s in Redis is invalid and is ignored", rule_id.decode())
        return rules

    async def get(self, rule_id: str) -> Rule | None:
        document = await self._client.hget(self._keys.rules, rule_id)
        return None if document is None else Rule.model_validate_json(document)

    async def add(self, rule: Rule) -> bool:
        """Stores a new rule; False when one with that id exists."""
        return bool(await self._client.hsetnx(self._keys.rules, rule.id, rule.model_dump_json()))

    async def put(self, rule: Rule) -> None:
        await self._client.hset(self._keys.rules, rule.id, rule.model_dump_json())

    async def delete(self, rule_id: str) -> bool:
        return bool(await self._client.hdel(self._keys.rules, rule_id))
