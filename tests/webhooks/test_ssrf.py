"""Targets inside the network are refused after resolution, and redirects never followed.

No test sends traffic anywhere but 127.0.0.1: refused targets fail before any connection.
"""

from __future__ import annotations

import pytest

from agent.webhooks.delivery import deliver, http_client
from agent.webhooks.settings import WebhookSettings
from agent.webhooks.signing import new_secret
from agent.webhooks.ssrf import TargetRefusedError, resolve_target
from tests.webhooks.conftest import new_receiver
from tests.webhooks.receiver import Behaviour, Receiver

LOOPBACK_ONLY = WebhookSettings(allow_hosts=["127.0.0.1"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://localhost:9/hook",
        "ftp://example.com/",
        "http://user:pw@example.com/",
    ],
)
async def test_private_loopback_link_local_and_odd_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefusedError):
        await resolve_target(url, WebhookSettings())


async def test_allow_listing_a_host_allows_that_host_only() -> None:
    target = await resolve_target("http://127.0.0.1:9/hook?a=1", LOOPBACK_ONLY)
    assert target.connect_url == "http://127.0.0.1:9/hook?a=1"
    with pytest.raises(TargetRefusedError, match="localhost resolves to"):
        await resolve_target("http://localhost:9/hook", LOOPBACK_ONLY)
    with pytest.raises(TargetRefusedError):
        await resolve_target("http://10.0.0.1/", LOOPBACK_ONLY)


async def test_allow_listing_a_network() -> None:
    settings = WebhookSettings.model_validate({"allow_networks": ["10.0.0.0/8"]})
    assert (await resolve_target("http://10.0.0.1/", settings)).connect_url == "http://10.0.0.1:80/"
    with pytest.raises(TargetRefusedError):
        await resolve_target("http://169.254.169.254/", settings)


async def test_public_addresses_are_pinned_with_the_original_host() -> None:
    target = await resolve_target("https://93.184.216.34:8443/x", WebhookSettings())
    assert target.connect_url == "https://93.184.216.34:8443/x"
    assert target.host_header == "93.184.216.34:8443"


async def test_a_redirect_to_a_private_address_is_a_failure_not_followed(
    receivers: list[Receiver],
) -> None:
    receiver = new_receiver(receivers)
    receiver.behaviour = Behaviour(status=307, location="http://10.0.0.1/steal")
    async with http_client(LOOPBACK_ONLY) as client:
        attempt = await deliver(client, LOOPBACK_ONLY, receiver.url, new_secret(), "msg_1", b"{}")
    assert not attempt.ok
    assert attempt.status == 307
    assert attempt.error == "HTTP 307: redirects are not followed"


async def test_a_refused_target_is_a_failed_try_without_traffic() -> None:
    async with http_client(WebhookSettings()) as client:
        attempt = await deliver(
            client, WebhookSettings(), "http://169.254.169.254/", new_secret(), "m", b"{}"
        )
    assert not attempt.ok
    assert attempt.status is None
    assert attempt.error is not None
    assert attempt.error.startswith("refused:")
