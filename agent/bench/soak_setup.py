"""The soak's configuration and the state it seeds before the roles start.

Every role gets the same settings but its own data directory (as separate containers
would): the bundled footage's videos as looped ``file://`` cameras with their labelled
rules, the pixel engine over HTTP, MQTT to the private broker, the archive on the S3
store, webhooks to the receiver on loopback. A few timings are shortened so a fault's
effect clears within the soak's recovery margin (each is named and explained below).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from agent.api.keys import ApiKeyStore, Scope
from agent.bench.soak_servers import BUCKET, Servers
from agent.bench.soak_store import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from agent.eval.labels import LabelSet
from agent.eval.pixel_server import MODEL
from agent.webhooks.subscriptions import WebhookIn, new_subscription
from streams.bus.keys import Keys

MQTT_PREFIX = "soak"
KEYS = Keys("soak:")


def s3_section() -> dict[str, object]:
    return {
        "endpoint_url": "",  # filled in by common_settings
        "region": REGION,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "allow_http": True,
    }


def common_settings(servers: Servers, labels: LabelSet, api_port: int) -> dict[str, object]:
    """What every role's vigil.yaml holds."""
    return {
        "redis_url": servers.redis.url,
        "key_prefix": KEYS.prefix,
        "log_level": "INFO",
        "ingest": {"lease_s": 3.0},  # a killed ingest's cameras move on within 3 s
        # A hung engine call is given up after 10 s instead of 120 s, once retried.
        "engine": {
            "kind": "openai",
            "model": MODEL,
            "base_urls": [servers.pixel.base_url],
            "request_timeout_s": 10.0,
            "max_retries": 1,
        },
        "pipeline": {"claim_idle_s": 15.0},  # a killed worker's jobs are taken over in 15 s
        # closed alerts reach the archive within ~25 s instead of waiting 10 min for a summary
        "alerts": {"summary_wait_s": 20.0, "archive_every_s": 5.0},
        "api": {"host": "127.0.0.1", "port": api_port},
        # retries every 10 s at most once the receiver is back (default: up to 10 min)
        "webhooks": {"allow_hosts": ["127.0.0.1"], "backoff_cap_s": 10.0},
        "mqtt": {
            "url": f"mqtt://127.0.0.1:{servers.broker.port}",
            "prefix": MQTT_PREFIX,
            "client_id": "vigil-soak",
            "backoff_cap_s": 5.0,
        },
        "archive": archive_section(servers),
        "cameras": [
            {
                "id": video,
                "url": labels.video_path(video).as_uri(),
                "name": f"soak {video}",
                **labels.camera_zones(video).model_dump(mode="json"),
            }
            for video in labels.video_ids
        ],
        "rules": [rule.model_dump(mode="json") for rule in labels.rules()],
    }


def archive_section(servers: Servers) -> dict[str, object]:
    s3 = s3_section() | {"endpoint_url": servers.store.endpoint_url}
    return {"uri": f"s3://{BUCKET}/soak", "s3": s3, "batch_s": 1.0}


def per_role(folder: Path, roles: tuple[str, ...]) -> dict[str, dict[str, object]]:
    return {role: {"data_dir": str(folder / "data" / role)} for role in roles}


def seed(url: str, receiver_url: str, secret: str) -> str:
    """The receiver's webhook subscription and an admin API key; returns the key's token."""
    return asyncio.run(_seed(url, receiver_url, secret))


async def _seed(url: str, receiver_url: str, secret: str) -> str:
    client = aioredis.from_url(url)
    try:
        subscription = new_subscription(WebhookIn(url=receiver_url, description="soak"), secret)
        await client.hset(KEYS.webhooks, subscription.id, subscription.model_dump_json())
        _, token = await ApiKeyStore(client, KEYS).create("soak", Scope.ADMIN)
        return token
    finally:
        await client.aclose()
