"""File cameras (the demo footage) and ingest's behaviour when Redis goes away."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import redis

from agent.runtime.embedded_redis import EmbeddedRedis
from streams.bus.keys import Keys
from streams.ingest.demo import demo_video_path
from tests.streams.helpers import all_frames, camera, make_video, running_ingest, wait_for


def test_demo_footage_plays_as_a_live_4_fps_camera(redis_client: redis.Redis, keys: Keys) -> None:
    with running_ingest(redis_client, keys, [camera("demo", demo_video_path().as_uri())]):
        wait_for(lambda: len(all_frames(redis_client, keys, "demo")) >= 1, 10, "a frame")
        time.sleep(3.0)
    frames = all_frames(redis_client, keys, "demo")
    span = frames[-1].ts - frames[0].ts
    assert abs((len(frames) - 1) / span - 4.0) < 0.5
    assert {(f.width, f.height) for f in frames} == {(504, 224)}
    assert max(f.motion for f in frames[1:]) > 0.01, "street footage moves"


def test_a_looped_file_keeps_time_monotonic_across_loops(
    redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "two-seconds.mp4", "testsrc2=size=320x240:rate=10")
    with running_ingest(redis_client, keys, [camera("loop", clip.as_uri())], realtime=False):
        wait_for(lambda: len(all_frames(redis_client, keys, "loop")) >= 40, 20, "five loops")
    stamps = [f.ts for f in all_frames(redis_client, keys, "loop")]
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    # A 10 fps source sampled at 4 FPS: 0.2 / 0.3 s steps, no gap or overlap at loop points.
    assert min(steps) > 0.19
    assert max(steps) < 0.41
    assert abs((len(stamps) - 1) / (stamps[-1] - stamps[0]) - 4.0) < 0.25


def test_ingest_survives_redis_going_away_and_drops_are_counted(keys: Keys, tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", append_only=False).start()
    client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    spec = camera("street", demo_video_path().as_uri())
    try:
        with running_ingest(client, keys, [spec]) as service:
            wait_for(lambda: len(all_frames(client, keys, "street")) >= 4, 10, "frames")
            server.kill()
            health = service.healths["street"]
            decoded_at_kill = int(health.snapshot(time.time())["frames_in"])
            time.sleep(3.0)
            snapshot = health.snapshot(time.time())
            assert int(snapshot["frames_in"]) > decoded_at_kill + 50, "readers never block"
            server.start()
            wait_for(lambda: len(all_frames(client, keys, "street")) >= 8, 15, "frames again")
            wait_for(lambda: bool(client.hget(keys.health("street"), "state")), 5, "health again")
    finally:
        server.stop()
    # While Redis was down the writer held one batch and the bounded queue; nothing
    # beyond that is kept, so the drop count is what went missing, not silence.
    assert int(service.healths["street"].snapshot(time.time())["frames_out"]) >= 8


def test_cameras_added_changed_and_removed_while_running(
    redis_client: redis.Redis, keys: Keys
) -> None:
    demo = demo_video_path().as_uri()
    with running_ingest(redis_client, keys, [camera("first", demo)]) as service:
        wait_for(lambda: len(all_frames(redis_client, keys, "first")) >= 2, 10, "first camera")
        service.sync([camera("first", demo), camera("second", demo)])
        wait_for(lambda: len(all_frames(redis_client, keys, "second")) >= 2, 10, "added camera")
        service.sync([camera("second", demo, fps=2.0)])  # first removed, second changed
        assert service.camera_ids == ["second"]
        time.sleep(1.0)  # frames already handed to the writer may still land
        first_count = len(all_frames(redis_client, keys, "first"))
        changed_at = time.time()
        time.sleep(2.5)
        assert len(all_frames(redis_client, keys, "first")) == first_count, "first stopped"
        recent = [f.ts for f in all_frames(redis_client, keys, "second") if f.ts > changed_at]
        assert 3 <= len(recent) <= 7, "second now samples at 2 FPS"
        assert set(service.healths) == {"second"}
