"""The connected loop: availability, retained state, then alert events, reconnecting forever.

A broker that is down or refuses the login only delays MQTT, and so does Redis being
unreachable: the loop records why in the ``mqtt-health`` hash (when it can), waits a capped
exponential backoff and tries again; unacked events are read again then. The command
listener runs beside the relay: when it dies it is recorded there (``/v1/mqtt`` shows it),
counted, and started again after a backoff. Every
connection starts by publishing the whole retained state, so whatever the broker kept
while Vigil was away is corrected before ``online`` is announced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time

import aiomqtt
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agent.mqtt import topics
from agent.mqtt.commands import Commands
from agent.mqtt.devices import DiscoveryConfigs
from agent.mqtt.relay import OutboxRelay, ensure_group
from agent.mqtt.settings import MqttSettings
from agent.mqtt.snapshot import SwitchStates, publish_snapshot, publish_statuses
from agent.pipeline.metrics import Counters
from agent.pipeline.progress import Progress, no_progress
from streams.bus.backoff import Backoff
from streams.bus.dead_letters import TRANSIENT
from streams.bus.keys import Keys

log = logging.getLogger(__name__)
LOOP = "mqtt"
LISTENER = "mqtt-listener"
LISTENER_STOP_S = 2.0
# CONNACK codes of a refused login (MQTT 5 numbering, which paho also gives 3.1.1 refusals)
LOGIN_REFUSED = frozenset({134, 135})


class MqttPublisher:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        settings: MqttSettings,
        consumer: str,
        base_url: str,
    ) -> None:
        self._base_url = base_url
        self._client = client
        self._keys = keys
        self._settings = settings
        self._relay = OutboxRelay(client, keys, settings, consumer, base_url)
        self._configs = DiscoveryConfigs(client, keys, settings)
        self._switches = SwitchStates(client, keys, settings)
        self._commands = Commands(client, keys, settings)
        self._home_assistant_back = asyncio.Event()  # it restarted: it wants everything again

    async def run(self, stop: asyncio.Event, progress: Progress = no_progress) -> None:
        await ensure_group(self._client, self._keys)
        delay = self._settings.backoff_initial_s
        while not stop.is_set():
            progress(LOOP)
            try:
                await self._session(stop, progress)
                delay = self._settings.backoff_initial_s
            except (aiomqtt.MqttError, *TRANSIENT) as error:
                await self._record_failure(error, delay)
                await _wait(stop, delay)
                delay = min(delay * 2, self._settings.backoff_cap_s)

    async def _session(self, stop: asyncio.Event, progress: Progress) -> None:
        async with self._connect() as mqtt:
            await self._record("connected", "")
            log.info("mqtt connected to %s:%d", self._settings.host, self._settings.port)
            await mqtt.subscribe(self._home_assistant_status, qos=1)
            if self._settings.commands:
                for topic_filter in topics.command_filters(self._settings.prefix):
                    await mqtt.subscribe(topic_filter, qos=1)
            await self._publish_everything(mqtt)
            await self._announce(mqtt, topics.ONLINE)
            listener = asyncio.create_task(self._keep_listening(mqtt))
            try:
                await self._relay_events(mqtt, stop, progress, listener)
            finally:
                listener.cancel()
                # Bounded: a listener stuck in a cancelled call must not hold the session.
                await asyncio.wait({listener}, timeout=LISTENER_STOP_S)
            await self._announce(mqtt, topics.OFFLINE)
        await self._record("disconnected", "")

    async def _relay_events(
        self,
        mqtt: aiomqtt.Client,
        stop: asyncio.Event,
        progress: Progress,
        listener: asyncio.Task[None],
    ) -> None:
        next_poll = time.monotonic() + self._settings.status_poll_s
        while not stop.is_set():
            progress(LOOP)
            if listener.done():
                listener.result()  # only a lost connection ends it: reconnect
            await self._relay.step(mqtt)
            if self._home_assistant_back.is_set():
                self._home_assistant_back.clear()
                await self._publish_everything(mqtt)
            if time.monotonic() >= next_poll:
                if await self._configs.sync(mqtt):
                    await publish_snapshot(
                        mqtt, self._client, self._keys, self._settings, self._base_url
                    )
                await self._switches.sync(mqtt)
                await publish_statuses(mqtt, self._client, self._keys, self._settings)
                await self._record("connected", "")  # the heartbeat /v1/mqtt checks
                next_poll = time.monotonic() + self._settings.status_poll_s

    async def _publish_everything(self, mqtt: aiomqtt.Client) -> None:
        """Discovery, then the retained state it points at, correcting what the broker kept."""
        await self._configs.sync(mqtt, everything=True)
        await publish_snapshot(mqtt, self._client, self._keys, self._settings, self._base_url)
        await self._switches.sync(mqtt, everything=True)

    async def _keep_listening(self, mqtt: aiomqtt.Client) -> None:
        """The listener, started again when it dies of anything but a lost connection."""
        backoff = Backoff(self._settings.backoff_initial_s, self._settings.backoff_cap_s)
        while True:
            await self._client.hset(self._keys.mqtt_health, "listener", "listening")
            try:
                await self._listen(mqtt)
            except aiomqtt.MqttError:
                raise
            except Exception as error:
                delay = backoff.next_delay_s()
                log.exception("mqtt command listener died; restarting in %.1f s", delay)
                await self._listener_died(f"{type(error).__name__}: {error}")
                await asyncio.sleep(delay)

    async def _listener_died(self, error: str) -> None:
        fields = {"listener": "down", "listener_error": self._scrubbed(error)}
        with contextlib.suppress(RedisError):
            await self._client.hset(self._keys.mqtt_health, mapping=fields)  # type: ignore[arg-type]
            await Counters(self._client, self._keys).add(f"part_restarts:{LISTENER}")

    async def _listen(self, mqtt: aiomqtt.Client) -> None:
        async for message in mqtt.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if message.topic.matches(self._home_assistant_status):
                if payload == b"online":
                    self._home_assistant_back.set()
            elif message.retain:
                # A retained command would be applied again on every reconnect, undoing
                # whatever was changed since.
                log.warning(
                    "mqtt command on %s ignored: commands must not be retained", message.topic
                )
            else:
                await self._commands.handle(str(message.topic), payload)
                await self._switches.sync(mqtt)

    @property
    def _home_assistant_status(self) -> str:
        return f"{self._settings.discovery_prefix}/status"

    async def _announce(self, mqtt: aiomqtt.Client, availability: str) -> None:
        topic = topics.availability(self._settings.prefix)
        await mqtt.publish(topic, availability, qos=1, retain=True)

    def _connect(self) -> aiomqtt.Client:
        settings = self._settings
        password = settings.password.get_secret_value() if settings.password else None
        will = aiomqtt.Will(topics.availability(settings.prefix), topics.OFFLINE, 1, True)
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=password,
            identifier=settings.client_id,
            will=will,
            tls_context=self._tls_context(),
            timeout=10.0,
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self._settings.tls:
            return None
        ca = str(self._settings.tls_ca) if self._settings.tls_ca else None
        return ssl.create_default_context(cafile=ca)

    async def _record_failure(self, error: Exception, retry_s: float) -> None:
        reason = self._scrubbed(_reason(error))
        log.warning(
            "mqtt broker %s:%d: %s; retrying in %.1fs",
            self._settings.host, self._settings.port, reason, retry_s,
        )  # fmt: skip
        with contextlib.suppress(RedisError):  # Redis may be what failed
            await self._record("disconnected", reason)

    def _scrubbed(self, text: str) -> str:
        password = self._settings.password
        secret = password.get_secret_value() if password else ""
        return text.replace(secret, "***") if secret else text

    async def _record(self, state: str, error: str) -> None:
        fields = {
            "state": state,
            "broker": f"{self._settings.host}:{self._settings.port}",
            "at": f"{time.time():.3f}",
            "every_s": f"{self._settings.status_poll_s:g}",
        }
        if error:
            fields["last_error"] = error
        await self._client.hset(self._keys.mqtt_health, mapping=fields)  # type: ignore[arg-type]


def _reason(error: Exception) -> str:
    if isinstance(error, RedisError):
        return f"Redis unavailable: {error}"
    code = getattr(error, "rc", None)
    code_value = getattr(code, "value", code)
    if code_value in LOGIN_REFUSED:
        return f"login refused: wrong username or password, or not authorized ({error})"
    return str(error)


async def _wait(stop: asyncio.Event, delay_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)
