"""Every Redis key, stream and group name Vigil uses, under one configurable prefix.

On a Redis Cluster every multi-key operation must stay inside one hash slot. A camera's
video keys (frames, motion, health, ingest lease) carry the camera id as a hash tag,
``{cam}``: they are the bulk of memory and writes, and they spread over the masters by
camera. Every other key carries the one tag ``{bus}``: the reasoning side's atomic steps
span them (an alert's transition writes its track, its record, its events and its
summary job in one transaction; a window job is queued with its dedup marker and the
camera's newest-window mark in one script); their traffic is a few operations per
camera-window, small beside the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "vigil:"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    def _bus(self, name: str) -> str:
        return f"{self.prefix}{{bus}}:{name}"

    def frames(self, camera_id: str) -> str:
        """Stream of sampled frames; entry id = capture time in ms."""
        return f"{self.prefix}frames:{{{camera_id}}}"

    def motion(self, camera_id: str) -> str:
        """Stream beside ``frames`` with the same ids and no JPEG: what the scheduler reads."""
        return f"{self.prefix}motion:{{{camera_id}}}"

    def health(self, camera_id: str) -> str:
        """Hash with the camera's ingest health."""
        return f"{self.prefix}health:{{{camera_id}}}"

    @property
    def cameras(self) -> str:
        """Hash camera id -> camera config JSON (runtime config)."""
        return self._bus("cameras")

    @property
    def health_index(self) -> str:
        """Set of camera ids that have published health."""
        return self._bus("health-index")

    @property
    def ingest_shards(self) -> str:
        """Sorted set of live ingest shards, scored by when their membership expires (ms)."""
        return self._bus("ingest-shards")

    def ingest_lease(self, camera_id: str) -> str:
        """The ingest shard that reads the camera now; expires unless its holder renews it."""
        return f"{self.prefix}ingest-lease:{{{camera_id}}}"

    # The reasoning side's keys (agent/): jobs, alerts, rules, metrics.

    @property
    def jobs(self) -> str:
        """Stream of window and summary jobs, read by the ``workers`` group."""
        return self._bus("jobs")

    @property
    def dead_jobs(self) -> str:
        """Stream of jobs that failed too often, with their last error."""
        return self._bus("jobs:dead")

    @property
    def dead_dispatch(self) -> str:
        """Stream of outbox events the ``dispatch`` group could not route, with their error."""
        return self._bus("outbox:dispatch:dead")

    @property
    def dead_mqtt(self) -> str:
        """Stream of outbox events the ``mqtt`` group could not publish, with their error."""
        return self._bus("outbox:mqtt:dead")

    @property
    def dead_archive(self) -> str:
        """Stream of window records the ``archive`` group could not commit, with their error."""
        return self._bus("archive:dead")

    @property
    def entry_failures(self) -> str:
        """Hash ``<group>:<entry id>`` -> how often the group failed the stream entry."""
        return self._bus("entry-failures")

    def job_seen(self, job_id: str) -> str:
        """Marker that a job was enqueued once: replays of the same window add nothing."""
        return self._bus(f"job-seen:{job_id}")

    def job_attempts(self, job_id: str) -> str:
        return self._bus(f"job-attempts:{job_id}")

    def schedule(self, camera_id: str) -> str:
        """Hash: the scheduler's cursor and the newest window enqueued for a camera."""
        return self._bus(f"schedule:{camera_id}")

    @property
    def rules(self) -> str:
        """Hash rule id -> rule JSON."""
        return self._bus("rules")

    def track(self, camera_id: str, rule_id: str) -> str:
        """Hash: the alert state machine of one (camera, rule)."""
        return self._bus(f"track:{camera_id}:{rule_id}")

    def open_alerts(self, camera_id: str) -> str:
        """Set of the camera's open alert ids."""
        return self._bus(f"open-alerts:{camera_id}")

    @property
    def alerts(self) -> str:
        """Stream of every alert event, time-ordered."""
        return self._bus("alerts")

    def camera_alerts(self, camera_id: str) -> str:
        return self._bus(f"alerts:{camera_id}")

    @property
    def alert_index(self) -> str:
        """Sorted set of the alerts held in Redis, scored by when they opened (epoch ms):
        what a page of alerts walks, newest first."""
        return self._bus("alert-index")

    def camera_alert_index(self, camera_id: str) -> str:
        """``alert_index`` of one camera."""
        return self._bus(f"alert-index:{camera_id}")

    @property
    def closed_alerts(self) -> str:
        """Sorted set of the closed alerts held in Redis, scored by when they closed (epoch
        ms): the archiver moves those older than the hot retention to the archive."""
        return self._bus("closed-alerts")

    @property
    def alerts_to_archive(self) -> str:
        """Sorted set of closed alerts whose archived copy is missing or stale, scored by
        when they closed (epoch ms); the archiver removes an id once it wrote the copy."""
        return self._bus("alerts-to-archive")

    def alert(self, alert_id: str) -> str:
        """Hash: the alert's current state."""
        return self._bus(f"alert:{alert_id}")

    def evidence(self, alert_id: str) -> str:
        """List of the JPEG frames of the window that opened the alert."""
        return self._bus(f"evidence:{alert_id}")

    def alert_windows(self, alert_id: str) -> str:
        """List of the alert's window verdicts (JSON), oldest first."""
        return self._bus(f"alert-windows:{alert_id}")

    @property
    def verdict_failures(self) -> str:
        """Stream of model answers that could not be parsed, with their raw text."""
        return self._bus("verdict-failures")

    @property
    def outbox(self) -> str:
        """Stream of events to deliver to webhooks (group ``dispatch``) and MQTT (``mqtt``)."""
        return self._bus("outbox")

    @property
    def archive(self) -> str:
        """Stream of analysed and skipped windows for the archiver (group ``archive``)."""
        return self._bus("archive")

    @property
    def archive_leader(self) -> str:
        """Which archiver runs retention and compaction now; expires unless renewed."""
        return self._bus("archive-leader")

    @property
    def report_schedules(self) -> str:
        """Hash of report schedule id → schedule JSON."""
        return self._bus("report-schedules")

    @property
    def reports_done(self) -> str:
        """Hash of scheduled report id → when it was delivered: each period's once."""
        return self._bus("reports-done")

    @property
    def report_leader(self) -> str:
        """Which process makes the scheduled reports now; expires unless renewed."""
        return self._bus("report-leader")

    @property
    def feedback_counts(self) -> str:
        """Hash of ``rule|camera|verdict`` → how many alerts (or missed events) have that
        feedback now: confirmed, false_alarm, missed."""
        return self._bus("feedback-counts")

    @property
    def metrics(self) -> str:
        """Hash of counters, ``name`` or ``name:camera``."""
        return self._bus("metrics")

    # The API's and the webhook dispatcher's keys.

    @property
    def api_keys(self) -> str:
        """Hash sha256(token) hex -> API key JSON (name, scope); tokens are never stored."""
        return self._bus("api-keys")

    @property
    def webhooks(self) -> str:
        """Hash subscription id -> webhook subscription JSON, signing secret included."""
        return self._bus("webhooks")

    def webhook_queue(self, subscription_id: str) -> str:
        """List of the subscription's messages waiting for delivery, oldest first."""
        return self._bus(f"webhook-queue:{subscription_id}")

    def deliveries(self, subscription_id: str) -> str:
        """List of the subscription's delivery attempts (JSON), newest first, capped."""
        return self._bus(f"deliveries:{subscription_id}")

    def dead_letters(self, subscription_id: str) -> str:
        """List of messages that ran out of retries (JSON), oldest first."""
        return self._bus(f"dead-letters:{subscription_id}")

    def webhook_lease(self, subscription_id: str) -> str:
        """Which dispatcher delivers the subscription now (one at a time keeps its order)."""
        return self._bus(f"webhook-lease:{subscription_id}")

    @property
    def mqtt_health(self) -> str:
        """Hash: the MQTT publisher's connection state, broker host and last error."""
        return self._bus("mqtt-health")

    @property
    def mqtt_discovery(self) -> str:
        """Hash: discovery config topic -> the config the broker holds, as last published."""
        return self._bus("mqtt-discovery")

    @property
    def mqtt_published(self) -> str:
        """Hash: open alert id -> its record as last published (an event's "before")."""
        return self._bus("mqtt-published")


WORKERS_GROUP = "workers"
DISPATCH_GROUP = "dispatch"
MQTT_GROUP = "mqtt"
ARCHIVE_GROUP = "archive"
