"""Every Redis key, stream and group name Vigil uses, under one configurable prefix.

Keys that belong to one camera carry the camera id in a hash tag (``{cam}``) so that on a
Redis Cluster a camera's frames, health and alerts live on the same slot.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "vigil:"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

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
        return f"{self.prefix}cameras"

    @property
    def health_index(self) -> str:
        """Set of camera ids that have published health."""
        return f"{self.prefix}health-index"

    @property
    def ingest_shards(self) -> str:
        """Sorted set of live ingest shards, scored by when their membership expires (ms)."""
        return f"{self.prefix}ingest-shards"

    def ingest_lease(self, camera_id: str) -> str:
        """The ingest shard that reads the camera now; expires unless its holder renews it."""
        return f"{self.prefix}ingest-lease:{{{camera_id}}}"

    # The reasoning side's keys (agent/): jobs, alerts, rules, metrics.

    @property
    def jobs(self) -> str:
        """Stream of window and summary jobs, read by the ``workers`` group."""
        return f"{self.prefix}jobs"

    @property
    def dead_jobs(self) -> str:
        """Stream of jobs that failed too often, with their last error."""
        return f"{self.prefix}jobs:dead"

    def job_seen(self, job_id: str) -> str:
        """Marker that a job was enqueued once: replays of the same window add nothing."""
        return f"{self.prefix}job-seen:{job_id}"

    def job_attempts(self, job_id: str) -> str:
        return f"{self.prefix}job-attempts:{job_id}"

    def schedule(self, camera_id: str) -> str:
        """Hash: the scheduler's cursor and the newest window enqueued for a camera."""
        return f"{self.prefix}schedule:{{{camera_id}}}"

    @property
    def rules(self) -> str:
        """Hash rule id -> rule JSON."""
        return f"{self.prefix}rules"

    def track(self, camera_id: str, rule_id: str) -> str:
        """Hash: the alert state machine of one (camera, rule)."""
        return f"{self.prefix}track:{{{camera_id}}}:{rule_id}"

    def open_alerts(self, camera_id: str) -> str:
        """Set of the camera's open alert ids."""
        return f"{self.prefix}open-alerts:{{{camera_id}}}"

    @property
    def alerts(self) -> str:
        """Stream of every alert event, time-ordered."""
        return f"{self.prefix}alerts"

    def camera_alerts(self, camera_id: str) -> str:
        return f"{self.prefix}alerts:{{{camera_id}}}"

    def alert(self, alert_id: str) -> str:
        """Hash: the alert's current state."""
        return f"{self.prefix}alert:{alert_id}"

    def evidence(self, alert_id: str) -> str:
        """List of the JPEG frames of the window that opened the alert."""
        return f"{self.prefix}evidence:{alert_id}"

    def alert_windows(self, alert_id: str) -> str:
        """List of the alert's window verdicts (JSON), oldest first."""
        return f"{self.prefix}alert-windows:{alert_id}"

    @property
    def verdict_failures(self) -> str:
        """Stream of model answers that could not be parsed, with their raw text."""
        return f"{self.prefix}verdict-failures"

    @property
    def outbox(self) -> str:
        """Stream of events to deliver to webhooks (group ``dispatch``)."""
        return f"{self.prefix}outbox"

    @property
    def metrics(self) -> str:
        """Hash of counters, ``name`` or ``name:camera``."""
        return f"{self.prefix}metrics"

    # The API's and the webhook dispatcher's keys.

    @property
    def api_keys(self) -> str:
        """Hash sha256(token) hex -> API key JSON (name, scope); tokens are never stored."""
        return f"{self.prefix}api-keys"

    @property
    def webhooks(self) -> str:
        """Hash subscription id -> webhook subscription JSON, signing secret included."""
        return f"{self.prefix}webhooks"

    def webhook_queue(self, subscription_id: str) -> str:
        """List of the subscription's messages waiting for delivery, oldest first."""
        return f"{self.prefix}webhook-queue:{subscription_id}"

    def deliveries(self, subscription_id: str) -> str:
        """List of the subscription's delivery attempts (JSON), newest first, capped."""
        return f"{self.prefix}deliveries:{subscription_id}"

    def dead_letters(self, subscription_id: str) -> str:
        """List of messages that ran out of retries (JSON), oldest first."""
        return f"{self.prefix}dead-letters:{subscription_id}"

    def webhook_lease(self, subscription_id: str) -> str:
        """Which dispatcher delivers the subscription now (one at a time keeps its order)."""
        return f"{self.prefix}webhook-lease:{subscription_id}"


WORKERS_GROUP = "workers"
DISPATCH_GROUP = "dispatch"
