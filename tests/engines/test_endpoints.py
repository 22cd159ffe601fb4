"""Balancing over base URLs: fewest in flight, unhealthy ones skipped, never none."""

from __future__ import annotations

import logging

import pytest

from agent.engines.endpoints import EndpointPool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_picks_the_endpoint_with_fewest_outstanding_requests() -> None:
    pool = EndpointPool(["http://a/v1", "http://b/v1/"], unhealthy_for_s=10)
    a, b = pool.endpoints
    assert b.base_url == "http://b/v1"
    a.outstanding = 3
    b.outstanding = 1
    assert pool.pick() is b
    b.outstanding = 5
    assert pool.pick() is a


def test_unhealthy_endpoints_are_skipped_until_they_recover() -> None:
    clock = Clock()
    pool = EndpointPool(["http://a/v1", "http://b/v1"], unhealthy_for_s=10, clock=clock)
    a, b = pool.endpoints
    b.outstanding = 9
    pool.mark_failed(a)
    assert pool.pick() is b
    clock.now += 10.5
    assert pool.pick() is a
    pool.mark_failed(a)
    pool.mark_healthy(a)
    assert pool.pick() is a


def test_avoided_urls_fail_over_and_all_unhealthy_still_gives_one() -> None:
    clock = Clock()
    pool = EndpointPool(["http://a/v1", "http://b/v1"], unhealthy_for_s=10, clock=clock)
    a, b = pool.endpoints
    assert pool.pick(frozenset({"http://a/v1"})) is b
    pool.mark_failed(a)
    clock.now += 1
    pool.mark_failed(b)
    assert not pool.any_healthy()
    assert pool.pick() is a  # failed longest ago
    assert pool.pick(frozenset({"http://a/v1", "http://b/v1"})) is a


def test_going_out_and_coming_back_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    pool = EndpointPool(["http://a/v1", "http://b/v1"], unhealthy_for_s=10)
    a, _ = pool.endpoints
    with caplog.at_level(logging.INFO, logger="agent.engines.endpoints"):
        pool.mark_failed(a, "cannot reach http://a/v1: ConnectError")
        pool.mark_failed(a)
        pool.mark_healthy(a)
        pool.mark_healthy(a)
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ("WARNING", "engine endpoint http://a/v1 taken out (cannot reach http://a/v1: "
         "ConnectError); rechecked every 10 s"),
        ("INFO", "engine endpoint http://a/v1 is back in"),
    ]  # fmt: skip
