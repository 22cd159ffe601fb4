"""The stored picture as 4:2:0 planes: colours, strip, JPEG, thumbnails, odd inputs."""

from __future__ import annotations

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from streams.picture.motion import grey_thumbnail, stamped_thumbnail, thumbnail
from streams.picture.overlay import STRIP_HEIGHT, strip_band
from streams.picture.ycbcr import Picture420, draw_strip, encode_jpeg, scale_into, stamped_blank

Image = npt.NDArray[np.uint8]
# BGR patches: primaries, secondaries, skin, greys.
PATCHES = [
    (0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 200, 200), (200, 50, 120),
    (90, 140, 200), (128, 128, 128), (20, 20, 20), (235, 235, 235),
]  # fmt: skip
PATCH_WIDTH = 140


def patches(height: int = 360) -> Image:
    picture = np.zeros((height, PATCH_WIDTH * len(PATCHES), 3), np.uint8)
    for index, colour in enumerate(PATCHES):
        picture[:, index * PATCH_WIDTH : (index + 1) * PATCH_WIDTH] = colour
    return picture


def camera_frame(
    picture: Image, pixel_format: str, colorspace: str, color_range: str
) -> av.VideoFrame:
    """The picture as a decoder would deliver it, tagged with the stream's matrix and range."""
    rgb_frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
    frame = VideoReformatter().reformat(
        rgb_frame,
        format=pixel_format,
        dst_colorspace=Colorspace[colorspace],
        dst_color_range=ColorRange[color_range],
    )
    assert frame.format.name == pixel_format
    return frame


def decoded(jpeg: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR_BGR)
    assert image is not None
    return np.asarray(image, np.uint8)


def patch_centres(image: Image, scale: float) -> list[tuple[int, int, int]]:
    row = image.shape[0] // 3
    centres = [
        image[row, round((index + 0.5) * PATCH_WIDTH * scale)] for index in range(len(PATCHES))
    ]
    return [(int(b), int(g), int(r)) for b, g, r in centres]


@pytest.mark.parametrize(
    ("pixel_format", "colorspace", "color_range"),
    [
        ("yuv420p", "ITU709", "MPEG"),  # HD cameras
        ("yuv420p", "ITU601", "MPEG"),  # SD cameras, unflagged streams
        ("yuvj422p", "ITU601", "JPEG"),  # MJPEG cameras
        ("yuv420p10le", "ITU709", "MPEG"),  # 10-bit H.265
    ],
)
def test_colours_survive_scaling_and_jpeg_whatever_the_stream_matrix(
    pixel_format: str, colorspace: str, color_range: str
) -> None:
    frame = camera_frame(patches(), pixel_format, colorspace, color_range)
    picture = scale_into(VideoReformatter(), frame, Picture420.blank(448, 126))
    image = decoded(encode_jpeg(picture, 95))
    for seen, colour in zip(patch_centres(image, 448 / frame.width), PATCHES, strict=True):
        assert max(abs(a - b) for a, b in zip(seen, colour, strict=True)) <= 6, (seen, colour)


def test_bgr_rendering_shows_the_colours_a_jpeg_decoder_would() -> None:
    frame = camera_frame(patches(), "yuv420p", "ITU709", "MPEG")
    picture = scale_into(VideoReformatter(), frame, Picture420.blank(448, 126))
    shown = patch_centres(picture.bgr(), 448 / frame.width)
    for seen, colour in zip(shown, PATCHES, strict=True):
        assert max(abs(a - b) for a, b in zip(seen, colour, strict=True)) <= 4, (seen, colour)


def test_strip_is_the_overlay_band_in_neutral_grey_below_an_untouched_picture() -> None:
    frame = camera_frame(patches(), "yuv420p", "ITU601", "MPEG")
    stamped = stamped_blank(448, 126)
    picture = scale_into(VideoReformatter(), frame, stamped.top(126))
    before = picture.samples().copy()
    draw_strip(stamped, "14:03:07.25Z", 3)
    assert np.array_equal(picture.samples(), before)
    assert np.array_equal(stamped.y[126:], strip_band(448, "14:03:07.25Z", 3))
    image = decoded(encode_jpeg(stamped, 85))
    assert image.shape == (126 + STRIP_HEIGHT, 448, 3)
    strip = image[126 + 4 :].astype(int)  # chroma upsampling blends the first rows in
    assert np.abs(strip[:, :, 0] - strip[:, :, 2]).max() <= 8  # grey, not tinted
    assert strip[:, 224:].mean() > strip[:, :224].mean()  # odd frames: text on the right
    assert image[:126].astype(int).mean() > 60  # the picture is still there


def test_planes_are_read_without_row_padding() -> None:
    """A width whose chroma rows are padded in FFmpeg's buffers (196 of 224 bytes)."""
    frame = camera_frame(patches(), "yuv420p", "ITU601", "MPEG")
    reformatter = VideoReformatter()
    picture = scale_into(reformatter, frame, Picture420.blank(392, 224))
    reference = reformatter.reformat(
        frame, width=392, height=224, format="yuv420p", dst_colorspace=Colorspace.ITU601,
        dst_color_range=ColorRange.JPEG, interpolation=Interpolation.AREA, threads=1,
    ).to_ndarray()  # fmt: skip
    assert np.array_equal(picture.samples(), reference.ravel())


def test_odd_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="even"):
        Picture420.blank(447, 252)
    with pytest.raises(ValueError, match="even"):
        Picture420.blank(448, 251)


def test_luma_thumbnail_matches_the_bgr_one_and_the_stored_jpeg_s() -> None:
    rng = np.random.default_rng(7)
    scene = cv2.resize(rng.integers(0, 256, (36, 64, 3), np.uint8), (896, 504))
    frame = camera_frame(np.asarray(scene, np.uint8), "yuv420p", "ITU601", "MPEG")
    stamped = stamped_blank(448, 252)
    picture = scale_into(VideoReformatter(), frame, stamped.top(252))
    draw_strip(stamped, "00:00:00.00Z", 0)
    from_luma = grey_thumbnail(picture.y).astype(int)
    from_bgr = thumbnail(np.asarray(cv2.resize(scene, (448, 252)), np.uint8)).astype(int)
    from_jpeg = stamped_thumbnail(encode_jpeg(stamped, 85))
    assert from_jpeg is not None
    assert np.abs(from_luma - from_bgr).max() <= 4
    assert np.abs(from_luma - from_jpeg.astype(int)).max() <= 4
