"""/metrics: pipeline counters (part restarts and dead letters among them), camera health,
open alerts, webhook queues, dead-letter streams and operators' feedback for Prometheus."""

from __future__ import annotations

import time
from typing import cast

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from agent.api.deps import ReadKey, State
from agent.api.errors import responses
from agent.api.prometheus import Sample, counter_families, health_families, render
from agent.pipeline.feedback import parse_count_field
from agent.pipeline.metrics import Counters
from streams.buffer.health_records import health_from_record
from streams.bus.dead_letters import dead_stream
from streams.bus.keys import ARCHIVE_GROUP, DISPATCH_GROUP, MQTT_GROUP, WORKERS_GROUP

router = APIRouter(tags=["metrics"], responses=responses(401, 403))
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(state: State, _: ReadKey) -> PlainTextResponse:
    counters = await Counters(state.client, state.keys).all()
    cameras = await _camera_ids(state)
    records = await _health(state, cameras)
    families = counter_families(counters) + health_families(records)
    families.append(await _open_alerts(state, cameras))
    families.append(await _webhook_queues(state))
    families.append(await _dead_letters(state))
    families.append(await _feedback(state))
    return PlainTextResponse(render(families), media_type=CONTENT_TYPE)


async def _camera_ids(state: State) -> list[str]:
    reported = cast(set[bytes], await state.client.smembers(state.keys.health_index))
    configured = cast(list[bytes], await state.client.hkeys(state.keys.cameras))
    return sorted({camera.decode() for camera in reported | set(configured)})


async def _health(state: State, cameras: list[str]) -> dict[str, dict[str, str]]:
    pipe = state.client.pipeline(transaction=False)
    for camera in cameras:
        pipe.hgetall(state.keys.health(camera))
    raws = await pipe.execute()
    now = time.time()
    return {
        camera: health_from_record(camera, raw, now)
        for camera, raw in zip(cameras, raws, strict=True)
    }


async def _open_alerts(state: State, cameras: list[str]) -> tuple[str, str, str, list[Sample]]:
    pipe = state.client.pipeline(transaction=False)
    for camera in cameras:
        pipe.scard(state.keys.open_alerts(camera))
    counts = await pipe.execute()
    name = "vigil_alerts_open"
    samples = [Sample(name, (("camera", c),), n) for c, n in zip(cameras, counts, strict=True)]
    return name, "gauge", "Alerts open now.", samples


async def _feedback(state: State) -> tuple[str, str, str, list[Sample]]:
    raw = cast(dict[bytes, bytes], await state.client.hgetall(state.keys.feedback_counts))
    name = "vigil_alert_feedback"
    samples = []
    for field, count in sorted(raw.items()):
        parsed = parse_count_field(field.decode())
        if parsed is not None:
            labels = tuple(zip(("rule", "camera", "verdict"), parsed, strict=True))
            samples.append(Sample(name, labels, int(count)))
    text = "Alerts confirmed or dismissed, and events marked missed, per rule and camera."
    return name, "gauge", text, samples


async def _webhook_queues(state: State) -> tuple[str, str, str, list[Sample]]:
    raw = cast(list[bytes], await state.client.hkeys(state.keys.webhooks))
    subscriptions = sorted(s.decode() for s in raw)
    pipe = state.client.pipeline(transaction=False)
    for subscription in subscriptions:
        pipe.llen(state.keys.webhook_queue(subscription))
    depths = await pipe.execute()
    name = "vigil_webhook_queue_depth"
    samples = [
        Sample(name, (("subscription", s),), n) for s, n in zip(subscriptions, depths, strict=True)
    ]
    return name, "gauge", "Messages waiting for delivery per webhook.", samples


async def _dead_letters(state: State) -> tuple[str, str, str, list[Sample]]:
    streams = {WORKERS_GROUP: state.keys.dead_jobs}
    streams |= {
        group: dead_stream(state.keys, group)[1]
        for group in (DISPATCH_GROUP, MQTT_GROUP, ARCHIVE_GROUP)
    }
    pipe = state.client.pipeline(transaction=False)
    for stream in streams.values():
        pipe.xlen(stream)
    lengths = await pipe.execute()
    name = "vigil_dead_letters"
    samples = [
        Sample(name, (("group", group),), n) for group, n in zip(streams, lengths, strict=True)
    ]
    return name, "gauge", "Entries held in each consumer group's dead-letter stream.", samples
