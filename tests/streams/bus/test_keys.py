"""Where Vigil's keys land on a Redis Cluster: a camera's video keys on the camera's slot,
everything the reasoning side touches together on one slot."""

from __future__ import annotations

import inspect

from redis.crc import key_slot

from streams.bus.keys import Keys

KEYS = Keys()
VIDEO = ("frames", "motion", "health", "ingest_lease")


def every_key(camera_id: str) -> dict[str, str]:
    """Each key of Keys, for one camera (and a fixed job, rule, alert and subscription)."""
    arguments = {
        "camera_id": camera_id, "job_id": f"{camera_id}:1000", "rule_id": "lane",
        "alert_id": "al_1", "subscription_id": "wh_1",
    }  # fmt: skip
    names: dict[str, str] = {}
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            names[name] = getattr(KEYS, name)
        elif inspect.isfunction(member):
            wanted = list(inspect.signature(member).parameters)[1:]
            names[name] = member(KEYS, *(arguments[arg] for arg in wanted))
    return names


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_a_camera_s_video_keys_share_the_camera_s_slot() -> None:
    for camera in ("dock-1", "dock-2", "gate.north"):
        keys = every_key(camera)
        assert {slot(keys[name]) for name in VIDEO} == {slot(f"{{{camera}}}")}


def test_video_keys_of_many_cameras_spread_over_the_slots() -> None:
    slots = {slot(KEYS.frames(f"cam-{index}")) for index in range(100)}
    assert len(slots) > 90  # CRC16 over 16384 slots: a few cameras may share one


def test_every_other_key_shares_one_slot_whatever_the_camera() -> None:
    bus = {
        slot(key)
        for camera in ("dock-1", "gate.north")
        for name, key in every_key(camera).items()
        if name not in VIDEO
    }
    assert bus == {slot(KEYS.jobs)}
    assert len(every_key("dock-1")) > len(VIDEO) + 20  # every key was found
