"""The webhook payload of a ``report.ready`` event: the report in brief, with its links."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def report_body(event: dict[str, Any], base_url: str, at: float) -> str:
    report_id = str(event.get("report_id", ""))
    data = {
        name: event.get(name)
        for name in ("report_id", "schedule", "cameras", "since", "until", "notable", "summary")
    }
    data |= {
        "alerts": event.get("alerts"),
        "counts": event.get("counts"),
        "links": {
            "report": f"{base_url}/v1/reports/{report_id}",
            "print": f"{base_url}/v1/reports/{report_id}/print",
        },
    }
    stamp = datetime.fromtimestamp(at, tz=UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event.get("type"), "timestamp": stamp, "data": data})
