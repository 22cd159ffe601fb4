"""A cheap motion score: the share of a small grey thumbnail that changed between two
pictures (consecutive samples in ingest; a window and the last analysed one in the
scheduler)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from streams.picture.overlay import STRIP_HEIGHT

THUMB_SIZE = (64, 36)  # (columns, rows): the grid zones are scored on
CHANGE_LEVEL = 18  # grey levels of difference that count as change, above sensor noise

Thumbnail = npt.NDArray[np.uint8]
ChangeMap = npt.NDArray[np.bool_]  # (rows, columns) of the thumbnail: which cells changed


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


def change_map(previous: Thumbnail | None, current: Thumbnail) -> ChangeMap:
    """The thumbnail cells that changed; all of them for the first frame."""
    if previous is None or previous.shape != current.shape:
        return np.ones(current.shape, dtype=bool)
    return np.asarray(cv2.absdiff(previous, current) > CHANGE_LEVEL)


def motion_score(previous: Thumbnail | None, current: Thumbnail) -> float:
    """0.0 (nothing changed) .. 1.0 (everything changed); 1.0 for the first frame."""
    return share_changed(change_map(previous, current))


def share_changed(changed: ChangeMap) -> float:
    return float(np.count_nonzero(changed)) / changed.size


def pack_changes(changed: ChangeMap) -> bytes:
    """The change map in ``THUMB_SIZE`` cells as bits (288 bytes), for the motion stream."""
    return np.packbits(changed.reshape(-1)).tobytes()


def unpack_changes(packed: bytes) -> ChangeMap | None:
    """A packed change map back as cells; None when it is not one (an older entry)."""
    columns, rows = THUMB_SIZE
    if len(packed) * 8 != columns * rows:
        return None
    return np.unpackbits(np.frombuffer(packed, np.uint8)).astype(bool).reshape(rows, columns)
