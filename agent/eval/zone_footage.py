"""The bundled set's zone scenes: a lane on the floor, a flickering screen masked inside it,
and people walking about everywhere but in the lane.

- ``lane-in``: a yellow object appears inside the lane, stays ~14 s and goes (must alert).
- ``lane-out``: the same object at the same times, outside the lane but inside the crop
  around it, while a grey trolley moves in the lane, so every window is asked about the
  lane and the engine must tell inside the outline from outside (must not alert).
- ``lane-busy``: walkers and the screen for 96 s, nothing yellow: every window moves,
  but none where the lane rule looks once the screen is masked (must stay gated). It
  plays a second time as ``lane-busy-whole``, a camera without zones asked a rule about
  the whole picture: the calls that motion outside the zone would cost without zones.

The lane rule crops to the lane (``zone_crop``), so the crop is in every eval too.
"""

from __future__ import annotations

import numpy as np

from agent.eval.drawing import FPS, HEIGHT, WIDTH, Draw, Picture, box, walkers
from streams.zones import Zone

LANE = Zone(name="lane", points=[(0.02, 0.6), (0.5, 0.6), (0.62, 0.98), (0.02, 0.98)])
SCREEN = Zone(name="screen", points=[(0.05, 0.66), (0.17, 0.66), (0.17, 0.92), (0.05, 0.92)])
# Bright enough that its arrival shows in the grey thumbnail motion gating reads.
YELLOW = (230, 200, 30)
# Above the lane, and right of it: the walkers never set foot in it.
OUTSIDE_LANE = ((0, 0, WIDTH, 120), (330, 0, WIDTH, HEIGHT))
IN_LANE_AT, OUT_OF_LANE_AT = (100, 185), (250, 140)
SHOWN_S = (12.0, 26.0)
BUSY_S = 96.0

VIDEO_ZONES: dict[str, dict[str, list[Zone]]] = {
    video: {"zones": [LANE], "masks": [SCREEN]} for video in ("lane-in", "lane-out", "lane-busy")
}
WHOLE_PICTURE_TWIN = ("lane-busy-whole", "lane-busy")  # (camera, the video it plays)
ZONE_RULE = "yellow-in-lane"


def lane_scene(
    rng: np.random.Generator, object_at: tuple[int, int] | None, trolley: bool = False
) -> Draw:
    """Walkers outside the lane, the masked screen flickering, the grey trolley in the
    lane if asked, and the yellow object at ``object_at`` (x, y) while shown (never, for
    None), drawn last so nothing hides it."""
    crowd = [walkers(rng, 4, area) for area in OUTSIDE_LANE]

    def draw(picture: Picture, index: int) -> None:
        for walking in crowd:
            walking(picture, index)
        shade = 60 if (index // 3) % 2 else 200
        box(picture, 28, 172, 42, 54, (shade, shade, shade))
        t = index / FPS
        if trolley:
            box(picture, 160 + 40 * np.sin(t * 1.3), 205, 36, 26, (60, 60, 60))
        if object_at is not None and SHOWN_S[0] <= t < SHOWN_S[1]:
            box(picture, *object_at, 48, 40, YELLOW)

    return draw
