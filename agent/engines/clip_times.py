"""Clip-relative times in the model's free text, placed on the wall clock.

The model reads clip seconds from the strip (``0.00s``, ``0.25s``, …) and answers in them:
"appears at 3.00s and stays until 9.00s". ``place_times`` finds those times and returns
each with the epoch time it stands for (clip second t is ``start_s + t``), and a copy of
the text where each is followed by its UTC time, ``3.00s (14:02:07 UTC)``; a range gets
one note after it with both ends joined by an en dash. The model's text is kept as is.

Taken as times: a number with a unit (``3.00s``, ``3 s``, ``3 sec``, ``3.5 seconds``),
``mm:ss`` (``00:03``), and ranges of them (``3.00s-9.00s``, ``3-9s``, ``3 to 9 seconds``,
``between 3 and 9 s``). Not taken: numbers without a unit (counts, distances, ids), times
past the clip's end (with a little slack), and spans rather than instants ("for 3
seconds", "2 s later", "every 2 seconds"). Pure functions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

SLACK_S = 0.5  # a time this far past the clip's end is still read as its end
EN_DASH = "\u2013"
_TOKEN = re.compile(
    r"(?<![\w.:])(?:"
    r"(?P<minutes>\d{1,2}):(?P<seconds>[0-5]\d(?:\.\d+)?)(?![\w:]|\.\d)"
    r"|(?P<number>\d+(?:\.\d+)?)(?P<unit>\s?(?:seconds|second|secs|sec|s)\b)?"
    r")"
)
_RANGE_GAP = re.compile(r"\s*[-\u2013\u2014]\s*|\s+to\s+")
_BETWEEN_GAP = re.compile(r"\s+and\s+")
_STRIP_FORM = re.compile(r"\d+\.\d\ds")  # what the strip shows; always an instant
_WORD = re.compile(r"[A-Za-z]+")
_HEDGES = frozenset({"about", "around", "approximately", "roughly", "nearly", "almost", "just"})
# A span of time rather than an instant: "for 3 s", "every 2 seconds", "2 s later".
_SPAN_BEFORE = frozenset(
    {"for", "over", "within", "lasting", "lasts", "lasted", "last", "first", "next",
     "another", "every", "each", "a", "an", "took", "takes", "spent", "spends"}
)  # fmt: skip
_SPAN_AFTER = frozenset({"later", "earlier", "long", "apart", "ago", "afterwards", "afterward"})
# "2 seconds after the car" is a span, "9.00s before leaving" (the strip's form) an instant.
_SPAN_AFTER_UNLESS_STRIP = frozenset({"after", "before", "of"})


@dataclass(frozen=True, slots=True)
class PlacedTime:
    text: str  # the time as the model wrote it
    clip_s: float  # seconds since the clip's first frame
    at: float  # the wall-clock time it stands for, epoch seconds


@dataclass(frozen=True, slots=True)
class PlacedText:
    text: str  # the model's text, each time followed by its wall-clock time
    times: tuple[PlacedTime, ...]


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    seconds: float
    kind: str  # "clock" (mm:ss), "unit" (a number with a unit) or "bare" (a number)


def place_times(text: str, start_s: float, duration_s: float) -> PlacedText:
    """The times of ``text`` (a clip of ``duration_s`` from epoch ``start_s``), placed."""
    day = _utc(start_s).date()
    pieces: list[str] = []
    times: list[PlacedTime] = []
    done = 0
    for group in _groups(text, duration_s):
        clocks = [_clock(start_s + token.seconds, day) for token in group]
        end = group[-1].end
        pieces += [text[done:end], f" ({EN_DASH.join(dict.fromkeys(clocks))} UTC)"]
        times += [_placed(text, token, start_s) for token in group]
        done = end
    return PlacedText("".join([*pieces, text[done:]]), tuple(times))


def _groups(text: str, duration_s: float) -> list[list[_Token]]:
    """Instants (one token) and ranges (two) inside the clip, in the order written."""
    tokens = [_token(match) for match in _TOKEN.finditer(text)]
    groups: list[list[_Token]] = []
    index = 0
    while index < len(tokens):
        pair = tokens[index : index + 2]
        group = pair if len(pair) == 2 and _is_range(text, *pair) else pair[:1]
        index += len(group)
        if (group[0].kind == "bare" and len(group) == 1) or _is_span(text, group):
            continue
        inside = [token for token in group if token.seconds <= duration_s + SLACK_S]
        if inside == group:
            groups.append(group)
        else:  # a range that leaves the clip: the end inside on its own, if it has a unit
            groups += [[token] for token in inside if token.kind != "bare"]
    return groups


def _token(match: re.Match[str]) -> _Token:
    if match["minutes"] is not None:
        seconds = int(match["minutes"]) * 60 + float(match["seconds"])
        return _Token(match.start(), match.end(), seconds, "clock")
    kind = "bare" if match["unit"] is None else "unit"
    return _Token(match.start(), match.end(), float(match["number"]), kind)


def _is_range(text: str, first: _Token, second: _Token) -> bool:
    kinds_fit = second.kind != "bare" and first.kind in ("bare", second.kind)
    if not kinds_fit or second.seconds < first.seconds:
        return False
    gap = text[first.end : second.start]
    between = _words_before(text, first.start)[-1:] == ["between"]
    return bool(_RANGE_GAP.fullmatch(gap) or (between and _BETWEEN_GAP.fullmatch(gap)))


def _is_span(text: str, group: list[_Token]) -> bool:
    before = [word for word in _words_before(text, group[0].start) if word not in _HEDGES]
    if before and before[-1] in _SPAN_BEFORE:
        return True
    after = _WORD.match(text[group[-1].end :].lstrip())
    if after is None:
        return False
    word = after.group().lower()
    strip_form = any(_STRIP_FORM.fullmatch(text[t.start : t.end]) for t in group)
    return word in _SPAN_AFTER or (word in _SPAN_AFTER_UNLESS_STRIP and not strip_form)


def _words_before(text: str, index: int) -> list[str]:
    """The last few words before ``index`` in the same sentence, lower case."""
    sentence = re.split(r"[.!?;:]\s", text[max(0, index - 60) : index])[-1]
    return [word.lower() for word in _WORD.findall(sentence)][-3:]


def _placed(text: str, token: _Token, start_s: float) -> PlacedTime:
    at = round(start_s + token.seconds, 3)
    return PlacedTime(text[token.start : token.end], token.seconds, at)


def _clock(epoch_s: float, day: date) -> str:
    """``HH:MM:SS``, with the date in front when it is not the clip's first day."""
    moment = _utc(math.floor(epoch_s + 0.5))
    clock = moment.strftime("%H:%M:%S")
    return clock if moment.date() == day else f"{moment:%Y-%m-%d} {clock}"


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)
