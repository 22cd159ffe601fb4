"""The motion score."""

from __future__ import annotations

import numpy as np
import pytest

from streams.picture.motion import motion_score, thumbnail


def test_motion_score_is_zero_for_still_and_high_for_change() -> None:
    still = np.full((252, 448, 3), 100, np.uint8)
    moved = still.copy()
    moved[:, :224] = 200
    assert motion_score(None, thumbnail(still)) == 1.0
    assert motion_score(thumbnail(still), thumbnail(still)) == 0.0
    assert motion_score(thumbnail(still), thumbnail(moved)) == pytest.approx(0.5, abs=0.05)
    noisy = np.clip(still + np.random.default_rng(1).normal(0, 4, still.shape), 0, 255)
    assert motion_score(thumbnail(still), thumbnail(noisy.astype(np.uint8))) < 0.01
