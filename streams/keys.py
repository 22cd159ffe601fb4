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
