"""A cheap motion score: the share of a small grey thumbnail that changed between two
pictures (consecutive samples in ingest; a window and the last analysed one in the
scheduler)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from streams.picture.overlay import STRIP_HEIGHT

THUMB_SIZE = (64, 36)
CHANGE_LEVEL = 18  # grey levels of difference that count as change, above sensor noise

Thumbnail = npt.NDArray[np.uint8]


def thumbnail(picture_bgr: npt.NDArray[np.uint8]) -> Thumbnail:
    return grey_thumbnail(np.asarray(cv2.cvtColor(picture_bgr, cv2.COLOR_BGR2GRAY), np.uint8))


def grey_thumbnail(grey: npt.NDArray[np.uint8]) -> Thumbnail:
    """The thumbnail of a grey picture (a luma plane)."""
    return np.asarray(cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA), np.uint8)


def stamped_thumbnail(jpeg: bytes) -> Thumbnail | None:
    """The thumbnail of a stored frame's picture, its timestamp strip left out; None when
    the JPEG does not decode. Only the JPEG's luma is decoded: the grey picture itself."""
    grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None or grey.shape[0] <= STRIP_HEIGHT:
        return None
    return grey_thumbnail(np.asarray(grey[:-STRIP_HEIGHT], np.uint8))


def motion_score(previous: Thumbnail | None, current: Thumbnail) -> float:
    """0.0 (nothing changed) .. 1.0 (everything changed); 1.0 for the first frame."""
    if previous is None or previous.shape != current.shape:
        return 1.0
    changed = cv2.absdiff(previous, current) > CHANGE_LEVEL
    return float(np.count_nonzero(changed)) / changed.size
