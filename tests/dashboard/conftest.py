"""The dashboard under test: `vigil up`'s parts on real Redis and real ingest, a scripted
engine, an archive holding some past windows besides what the pipeline adds, and
Debian's Chromium driven by Playwright (started once per session)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from agent.api.settings import ApiSettings
from agent.archive.settings import ArchiveSettings
from agent.engines.answers import VerdictAnswer
from agent.engines.clips import Clip
from agent.engines.prompts import Question
from agent.pipeline.rules import Rule
from agent.pipeline.settings import PipelineSettings
from agent.runtime.config import VigilSettings
from agent.runtime.embedded_redis import EmbeddedRedis
from agent.runtime.ingest import follow_store_in_background, ingest_from_store
from agent.runtime.service import Roles, run_agents
from agent.runtime.startup import connect
from agent.webhooks.settings import WebhookSettings
from streams.bus.keys import Keys
from streams.config import CameraConfig, IngestSettings
from streams.ingest.demo import demo_video_path
from tests.api.conftest import create_api_keys
from tests.conftest import free_port
from tests.dashboard.archived import commit_archived
from tests.pipeline.scripted_engine import ScriptedEngine

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PERSON = Rule(
    id="person",
    question="Is a person standing in the street?",
    cameras=["street"],
    severity="critical",  # type: ignore[arg-type]
    consecutive=1,
    close_after_s=4.0,
    cooldown_s=0.0,
)


@dataclass
class RecordingEngine(ScriptedEngine):
    """The scripted engine, also noting which rules each window asked about."""

    asked: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)

    async def verdicts(self, clip: Clip, questions: list[Question]) -> VerdictAnswer:
        self.asked.append((time.time(), tuple(question.id for question in questions)))
        return await super().verdicts(clip, questions)

    def detect_from_now(self, rule_id: str) -> None:
        self.detect[rule_id] = [(time.time() - 1.0, time.time() + 3600.0)]

    def stop_detecting(self, rule_id: str) -> None:
        self.detect[rule_id] = []


@dataclass
class LiveVigil:
    url: str
    keys: Keys
    admin: str
    read: str
    engine: RecordingEngine
    redis_url: str
    archived: dict[str, str]  # window ids of ARCHIVED by name

    def http(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0, trust_env=False)


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("Vigil did not start")


def settings_for(redis_url: str, keys: Keys, data_dir: Path) -> VigilSettings:
    street = CameraConfig(id="street", url=SecretStr(demo_video_path().as_uri()), name="Street")
    # Nothing listens on this port: the camera goes offline and keeps reconnecting.
    ghost = CameraConfig(id="ghost", url=SecretStr(f"rtsp://127.0.0.1:{free_port()}/none"))
    return VigilSettings(
        redis_url=SecretStr(redis_url),
        key_prefix=keys.prefix,
        data_dir=data_dir,
        ingest=IngestSettings(
            health_interval_s=0.2, backoff_initial_s=0.2, backoff_cap_s=1.0,
            connect_timeout_s=2.0, read_timeout_s=2.0, stall_min_s=1.0,
        ),
        pipeline=PipelineSettings(
            window_s=2.0, stride_s=2.0, motion_threshold=0.0, scheduler_poll_s=0.2,
            claim_idle_s=3.0, max_window_age_s=30.0, summary_context_s=2.0,
        ),
        api=ApiSettings(port=free_port(), sse_keepalive_s=1.0),
        archive=ArchiveSettings(batch_s=0.3),
        webhooks=WebhookSettings(
            allow_hosts=["127.0.0.1"], backoff_initial_s=0.1, backoff_cap_s=0.2,
            retry_for_s=0.3, poll_s=0.1, timeout_s=2.0,
        ),
        cameras=[street, ghost],
        rules=[PERSON],
    )  # fmt: skip


@pytest.fixture(scope="module")
def vigil(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveVigil]:
    """What `vigil up` runs (ingest, scheduler, worker, API, dispatcher, archiver), in this
    process, its archive holding ``ARCHIVED`` from the start."""
    keys = Keys(prefix=f"dash-{uuid.uuid4().hex[:8]}:")
    settings = settings_for(redis_server.url, keys, tmp_path_factory.mktemp("vigil"))
    engine = RecordingEngine()
    admin, read = create_api_keys(redis_server.url, keys, owner="dashboard")
    archived = commit_archived(settings)
    stop = threading.Event()
    roles = Roles(api=True, dispatcher=True, archiver=True)
    with connect(redis_server.url) as client, ingest_from_store(settings, client) as shard:
        follow_store_in_background(shard, stop)
        agents = threading.Thread(
            target=run_agents,
            args=(settings, redis_server.url, stop, roles),
            kwargs={"engine": engine},
            daemon=True,
        )
        agents.start()
        url = settings.api.base_url()
        wait_until_up(url)
        try:
            yield LiveVigil(url, keys, admin, read, engine, redis_server.url, archived)
        finally:
            stop.set()
            agents.join(20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: while Playwright's sync API lives, it marks its event loop as
    # running in this thread, which breaks every asyncio test collected after it.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert not problems, problems
