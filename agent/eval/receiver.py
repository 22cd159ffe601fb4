"""The eval's webhook receiver: records when each alert event arrives, checking signatures.

Signatures are checked with the ``standardwebhooks`` package (the reference library of
the specification) when it is installed, as it is with the dev extras; otherwise every
message is recorded unchecked (``verified`` None).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from agent.eval.loopback import LoopbackServer, Reply, Request

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:  # not a runtime dependency
    Webhook = None  # type: ignore[assignment,misc]


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    event_type: str
    alert_id: str
    at: float  # epoch s, when it arrived
    verified: bool | None  # None: no library to check with


class WebhookReceiver(LoopbackServer):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self._checker = Webhook(secret) if Webhook is not None else None
        self._lock = threading.Lock()
        self._receipts: list[Receipt] = []

    @property
    def url(self) -> str:
        return f"{self.origin}/hook"

    @property
    def receipts(self) -> list[Receipt]:
        with self._lock:
            return list(self._receipts)

    def first_arrivals(self, event_type: str) -> dict[str, float]:
        """alert id -> when its first message of this type arrived (redeliveries ignored)."""
        arrivals: dict[str, float] = {}
        for receipt in self.receipts:
            if receipt.event_type == event_type:
                arrivals.setdefault(receipt.alert_id, receipt.at)
        return arrivals

    def answer(self, request: Request) -> Reply:
        at = time.time()
        if request.method != "POST":
            return Reply(405)
        try:
            document = json.loads(request.body)
            event_type, data = str(document["type"]), document["data"]
            alert_id = str(data["alert_id"])
        except (ValueError, KeyError, TypeError):
            return Reply(400)
        receipt = Receipt(
            request.headers.get("webhook-id", ""), event_type, alert_id, at, self._verify(request)
        )
        with self._lock:
            self._receipts.append(receipt)
        return Reply(204)

    def _verify(self, request: Request) -> bool | None:
        if self._checker is None:
            return None
        try:
            self._checker.verify(request.body, request.headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True
