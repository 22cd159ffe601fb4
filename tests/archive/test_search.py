from __future__ import annotations

import pytest

from agent.archive.embedder import Embedder
from agent.archive.search import (
    CANDIDATES_PER_RESULT,
    WindowFilter,
    fuse,
    scan_windows,
    search_windows,
)
from agent.archive.settings import ArchiveSettings
from agent.archive.store import ArchiveStore, StoredWindow
from agent.pipeline.archive_records import WindowRecord
from tests.archive.conftest import T0_MS, WINDOW_MS, add_windows, still_record, window_record

WATER = [
    "ducks swim in the pond",
    "geese walk along the shore",
    "a boat drifts down the stream",
    "fishermen sit by the water",
    "swans glide across the lake",
    "a heron stands in the reeds",
    "ducklings follow their mother",
    "a kayak paddles past the jetty",
    "waves wash over the pier",
    "a rowboat is tied to the dock",
    "an angler casts a line",
    "seagulls circle the harbour",
]
ONLY_BY_WORDS = "customers queue at the bank counter"  # "bank", but not a river's
ONLY_BY_MEANING = "a cyclist pedals down the road"  # a person riding a bike, in other words
TRUCKS = [f"delivery truck {i} backs up to the loading bay" for i in range(12)]
OTHERS = [
    ONLY_BY_WORDS,
    ONLY_BY_MEANING,
    "a forklift moves pallets in aisle three",
    "a van unloads crates",
    "smoke rises from a trash bin",
    "a man in a red coat walks past",
]


def corpus() -> list[WindowRecord]:
    """Most windows on camera dock, some on gate and o'brien, some skipped as still."""
    dock = [*WATER, *OTHERS, *TRUCKS]
    records = [
        window_record("dock", T0_MS + i * WINDOW_MS, caption, _detected(caption))
        for i, caption in enumerate(dock)
    ]
    records += [
        window_record("gate", T0_MS + i * WINDOW_MS, caption, _detected(caption))
        for i, caption in enumerate([*OTHERS, "ducks swim in the pond"])
    ]
    records.append(window_record("o'brien", T0_MS, "a truck waits by the fence", ("vehicle",)))
    records += [still_record("dock", T0_MS - (i + 1) * WINDOW_MS, "dock:0") for i in range(5)]
    return records


def _detected(caption: str) -> tuple[str, ...]:
    vehicle = any(word in caption for word in ("truck", "van", "forklift", "boat", "cyclist"))
    person = any(word in caption for word in ("man", "customers", "cyclist", "fishermen"))
    return (*(("vehicle",) if vehicle else ()), *(("person",) if person else ()))


@pytest.fixture(scope="module")
async def archive(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> ArchiveStore:
    store = await ArchiveStore.open(
        ArchiveSettings(), tmp_path_factory.mktemp("search"), embedder.dim
    )
    await add_windows(store, embedder, corpus())
    return store


def captions(hits: list[StoredWindow]) -> list[str]:
    return [window.caption for window in hits]


async def test_a_window_found_only_by_meaning(archive: ArchiveStore, embedder: Embedder) -> None:
    query, where = "person riding a bike", WindowFilter(camera="dock")
    assert ONLY_BY_MEANING not in captions(await archive.text_search(query, where, 50))
    hits = await search_windows(archive, embedder, query, where, limit=3)
    assert hits[0].window.caption == ONLY_BY_MEANING


async def test_a_window_found_only_by_words(archive: ArchiveStore, embedder: Embedder) -> None:
    query, where, limit = "ducks by the river bank", WindowFilter(camera="dock"), 3
    vector = embedder.embed([query])[0]
    depth = limit * CANDIDATES_PER_RESULT
    assert ONLY_BY_WORDS not in captions(await archive.vector_search(vector, where, depth))
    assert ONLY_BY_WORDS in captions(await archive.text_search(query, where, depth))
    hits = await search_windows(archive, embedder, query, where, limit)
    assert ONLY_BY_WORDS in [hit.window.caption for hit in hits]
    assert hits[0].window.caption == "ducks swim in the pond"  # found both ways
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


FILTERS = [
    WindowFilter(camera="gate"),
    WindowFilter(camera="o'brien"),
    WindowFilter(rule="vehicle"),
    WindowFilter(rule="person", camera="dock"),
    WindowFilter(since_ms=T0_MS + 3 * WINDOW_MS, until_ms=T0_MS + 6 * WINDOW_MS),
    WindowFilter(camera="dock", since_ms=T0_MS + 20 * WINDOW_MS),
]


@pytest.mark.parametrize("where", FILTERS)
@pytest.mark.parametrize("query", ["delivery truck", "ducks by the river bank", "a person"])
async def test_a_filter_never_lets_another_window_through(
    archive: ArchiveStore, embedder: Embedder, where: WindowFilter, query: str
) -> None:
    expected = await archive.count_windows(where)
    for search in (search_windows, scan_windows):
        hits = await search(archive, embedder, query, where, 50)
        assert hits, f"{search.__name__} found nothing for {where}"
        assert len(hits) <= expected
        for hit in hits:
            assert _matches(hit.window, where), (search.__name__, hit.window)


def _matches(window: StoredWindow, where: WindowFilter) -> bool:
    return (
        where.camera in (None, window.camera_id)
        and (where.rule is None or where.rule in window.detected_rules)
        and (where.since_ms is None or window.start_ms >= where.since_ms)
        and (where.until_ms is None or window.start_ms < where.until_ms)
        and window.caption != ""
    )


async def test_the_filter_applies_before_ranking(archive: ArchiveStore, embedder: Embedder) -> None:
    """The one truck of o'brien is found although twelve of dock rank above it."""
    hits = await search_windows(
        archive, embedder, "delivery truck", WindowFilter(camera="o'brien"), 1
    )
    assert [hit.window.window_id for hit in hits] == [f"o'brien:{T0_MS}"]
    vehicle_on_gate = WindowFilter(camera="gate", rule="vehicle")
    hits = await search_windows(archive, embedder, "delivery truck", vehicle_on_gate, 2)
    assert {hit.window.caption for hit in hits} <= {
        "a van unloads crates",
        ONLY_BY_MEANING,
        "a forklift moves pallets in aisle three",
    }


async def test_windows_skipped_as_still_are_never_a_match(
    archive: ArchiveStore, embedder: Embedder
) -> None:
    assert await archive.count_windows(WindowFilter(until_ms=T0_MS)) == 5
    for search in (search_windows, scan_windows):
        hits = await search(archive, embedder, "nothing moves", WindowFilter(), 100)
        assert all(hit.window.caption for hit in hits)
        assert all(hit.window.start_ms >= T0_MS for hit in hits)


async def test_the_scan_ranks_by_exact_cosine_like_the_vector_leg(
    archive: ArchiveStore, embedder: Embedder
) -> None:
    query, where = "water birds", WindowFilter(camera="dock")
    scanned = await scan_windows(archive, embedder, query, where, 8)
    vector = embedder.embed([query])[0]
    nearest = await archive.vector_search(vector, where, 8)
    assert [hit.window.window_id for hit in scanned] == [window.window_id for window in nearest]
    assert [hit.score for hit in scanned] == sorted((hit.score for hit in scanned), reverse=True)
    assert -1.0 <= scanned[-1].score <= scanned[0].score <= 1.0


@pytest.mark.parametrize("text", ['it\'s a "truck" (red) OR -', "AND", "*", "truck:", "ü ß 東京"])
async def test_odd_query_text_is_searched_as_words(
    archive: ArchiveStore, embedder: Embedder, text: str
) -> None:
    hits = await search_windows(archive, embedder, text, WindowFilter(camera="dock"), 5)
    assert all(hit.window.camera_id == "dock" for hit in hits)


async def test_quotes_in_a_camera_id_cannot_widen_the_filter(
    archive: ArchiveStore, embedder: Embedder
) -> None:
    sneaky = WindowFilter(camera="dock' OR camera != '")
    assert await search_windows(archive, embedder, "truck", sneaky, 5) == []
    assert await scan_windows(archive, embedder, "truck", sneaky, 5) == []
    assert await archive.count_windows(sneaky) == 0


@pytest.mark.parametrize(("text", "limit"), [("", 5), ("  \n", 5), ("truck", 0)])
async def test_a_blank_query_or_no_limit_is_a_value_error(
    archive: ArchiveStore, embedder: Embedder, text: str, limit: int
) -> None:
    for search in (search_windows, scan_windows):
        with pytest.raises(ValueError, match=r"empty|at least 1"):
            await search(archive, embedder, text, WindowFilter(), limit)


async def test_an_empty_archive_finds_nothing(store: ArchiveStore, embedder: Embedder) -> None:
    assert await search_windows(store, embedder, "truck", WindowFilter(), 5) == []
    assert await scan_windows(store, embedder, "truck", WindowFilter(camera="dock"), 5) == []


def _window(window_id: str) -> StoredWindow:
    camera, start = window_id.split(":")
    return StoredWindow(window_id, camera, int(start), int(start) + 1, "x", None, (), (), (), None)


def test_fusion_sums_reciprocal_ranks() -> None:
    a, b, c, d = (_window(f"cam:{i}") for i in range(4))
    hits = fuse([[a, b, c], [c, d]], limit=10)
    scores = {hit.window.window_id: hit.score for hit in hits}
    assert scores == pytest.approx(
        {"cam:0": 1 / 61, "cam:1": 1 / 62, "cam:2": 1 / 63 + 1 / 61, "cam:3": 1 / 62}
    )
    assert [hit.window.window_id for hit in hits] == ["cam:2", "cam:0", "cam:1", "cam:3"]
    assert [hit.window.window_id for hit in fuse([[a, b, c], [c, d]], limit=2)] == [
        "cam:2",
        "cam:0",
    ]
    assert fuse([[], []], limit=5) == []
