"""Evidence frames for alert book tests that write no frame buffer."""

from __future__ import annotations

from agent.pipeline.alert_book import EvidenceFrames
from streams.buffer.frames import FrameRecord


def fixed_frames(jpegs: list[bytes], camera_id: str = "cam") -> EvidenceFrames:
    """Whatever range is asked for, these JPEGs, a quarter second apart from its start."""

    async def frames(start_s: float, end_s: float) -> list[FrameRecord]:
        return [
            FrameRecord(camera_id, start_s + index / 4, index, 0.0, 448, 280, jpeg)
            for index, jpeg in enumerate(jpegs)
        ]

    return frames
