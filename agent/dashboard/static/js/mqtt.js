// The MQTT publisher's connection in the header, from /v1/mqtt: hidden while no publisher
// has reported (MQTT not configured), else connected to which broker or the last error.

import { dateTime } from "./format.js";
import { h } from "./dom.js";
import { every } from "./poll.js";

const INTERVAL_MS = 5000;
let lastStatus = null; // kept across pages, so a new header shows the state at once

function describe({ state, broker, last_error: lastError }) {
  if (state === "connected") return broker ? `MQTT connected (${broker})` : "MQTT connected";
  if (state === "disconnected") return `MQTT disconnected${lastError ? `: ${lastError}` : ""}`;
  if (state === "stale") return `MQTT publisher silent${lastError ? `: ${lastError}` : ""}`;
  return `MQTT ${state}`;
}

function show(node, status) {
  const state = status.state || "unknown";
  node.dataset.state = state;
  node.hidden = state === "unknown";
  if (node.hidden) return;
  const text = describe(status);
  if (node.textContent !== text) node.textContent = text; // a live region: say changes only
  node.title = status.at ? `Recorded ${dateTime(Number(status.at))}` : "";
}

/** The indicator and the stop of its polling. */
export function mqttIndicator(api) {
  const node = h("span", { class: "mqtt", id: "mqtt-state", role: "status", hidden: true });
  if (lastStatus) show(node, lastStatus);
  const stop = every(INTERVAL_MS, async (signal) => {
    lastStatus = await api.get("/v1/mqtt", signal);
    show(node, lastStatus);
  });
  return { node, stop };
}
