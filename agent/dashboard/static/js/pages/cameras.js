// Camera grid: each camera's latest stamped frame with its zones and masks outlined, health,
// fps and open alerts, kept live; each tile links to its camera's zone editor and, for an
// admin key, lets an operator mark an event its rules missed (`missed-event.js`).

import { dateTime, ago, fps } from "../format.js";
import { h, notice, pageHeading, replace } from "../dom.js";
import { query } from "../api.js";
import { MissedEventForm, rulesOf } from "../missed-event.js";
import { cameraShapes, drawOutlines } from "../outlines.js";
import { PictureLayer } from "../picture-layer.js";
import { every } from "../poll.js";

const DOWN = {
  offline: ["Camera offline", "Reconnecting"],
  stalled: ["Camera stalled", "No new frames"],
  unknown: ["Not reporting", "No ingest reports this camera"],
  connecting: ["Connecting…", "Waiting for the first frame"],
};

function frameInterval(cameraCount) {
  return Math.max(1000, cameraCount * 125); // about 8 frame requests a second in all
}

class Tile {
  constructor(camera, api) {
    this.camera = camera;
    this.api = api;
    this.objectUrl = null;
    this.image = h("img", { class: "frame", alt: `Latest frame of ${camera.name || camera.id}` });
    this.zones = new PictureLayer("tile-layer");
    this.zones.onChange(() => drawOutlines(this.zones, cameraShapes(camera)));
    this.image.addEventListener("load", () => this.zones.fit(this.image.naturalWidth, this.image.naturalHeight));
    this.overlay = h("div", { class: "overlay", hidden: true });
    this.badge = h("span", { class: "badge", text: "…" });
    this.rate = h("span", { class: "rate", text: "— fps" });
    this.stamp = h("p", { class: "stamp muted", text: "No frame yet" });
    this.alerts = h("ul", { class: "tile-alerts" });
    this.node = h(
      "article",
      { class: "tile", dataset: { camera: camera.id, state: "unknown" } },
      h("header", {}, h("h2", { text: camera.name || camera.id }), this.badge, this.rate),
      h("div", { class: "screen" }, this.image, this.zones.node, this.overlay),
      this.stamp,
      this.alerts,
      h("p", { class: "tile-links" }, h("a", { href: `#/cameras/${encodeURIComponent(camera.id)}/zones`,
        text: "Zones and masks", "aria-label": `Zones and masks of ${camera.name || camera.id}` })),
    );
  }

  async refreshFrame(signal) {
    let frame;
    try {
      frame = await this.api.objectUrl(`/v1/cameras/${this.camera.id}/latest.jpg`, signal);
    } catch (error) {
      if (error.status === 404) this.stamp.textContent = "No frame in the buffer";
      else if (error.name !== "AbortError") this.stamp.textContent = error.message;
      return;
    }
    const previous = this.objectUrl;
    this.objectUrl = frame.url;
    this.image.src = frame.url;
    if (previous) URL.revokeObjectURL(previous);
    const captured = Number(frame.headers.get("X-Capture-Time"));
    this.stamp.textContent = `Frame ${dateTime(captured)} (${ago(captured)})`;
    this.node.dataset.captured = String(captured);
  }

  showHealth(health) {
    const state = health.state || "unknown";
    this.node.dataset.state = state;
    this.badge.textContent = state;
    this.badge.className = `badge state-${state}`;
    this.rate.textContent = fps(health.fps_out);
    const down = DOWN[state];
    this.overlay.hidden = !down;
    if (down) {
      const detail = health.last_error || down[1];
      const reconnects = Number(health.reconnects) ? ` · ${health.reconnects} reconnects` : "";
      replace(this.overlay, h("strong", { text: down[0] }), h("span", { text: detail + reconnects }));
    }
  }

  showAlerts(alerts) {
    const items = alerts.map((alert) =>
      h(
        "li",
        {},
        h("a", { href: `#/alerts/${alert.id}`, class: `sev sev-${alert.severity}` },
          `${alert.rule}: ${alert.last_description || alert.description}`),
      ),
    );
    replace(this.alerts, items.length ? items : h("li", { class: "muted", text: "No open alerts" }));
  }

  stop() {
    this.zones.stop();
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
  }
}

function groupByCamera(alerts) {
  const groups = new Map();
  for (const alert of alerts) groups.set(alert.camera, [...(groups.get(alert.camera) || []), alert]);
  return groups;
}

// Under each tile, the form to mark a missed event; the rules once for all tiles.
async function addMissedForms(api, tiles) {
  const rules = await api.get("/v1/rules");
  for (const tile of tiles) {
    tile.node.append(new MissedEventForm(api, tile.camera, rulesOf(rules, tile.camera.id)).node);
  }
}

export function mount(root, { api, feed, scope }) {
  const grid = h("div", { class: "grid", "aria-live": "off" });
  const status = h("div", { class: "message" });
  replace(root, pageHeading("Cameras"), status, grid);
  const stops = [];
  let tiles = [];
  let stopped = false;

  async function refreshHealth(signal) {
    await Promise.all(tiles.map(async (tile) => {
      try {
        tile.showHealth(await api.get(`/v1/cameras/${tile.camera.id}/health`, signal));
      } catch (error) {
        if (error.name !== "AbortError") tile.showHealth({ state: "unknown", last_error: error.message });
      }
    }));
  }

  async function refreshAlerts(signal) {
    const page = await api.get(`/v1/alerts${query({ state: "open", limit: 200 })}`, signal);
    const groups = groupByCamera(page.items);
    for (const tile of tiles) tile.showAlerts(groups.get(tile.camera.id) || []);
  }

  async function start() {
    let cameras;
    try {
      cameras = await api.get("/v1/cameras");
    } catch (error) {
      if (stopped) return;
      replace(status, notice("error", "Cameras unavailable", error.message));
      return;
    }
    if (stopped) return;
    if (!cameras.length) {
      replace(status, notice("empty", "No cameras yet", "Add cameras in vigil.yaml or through /v1/cameras."));
      return;
    }
    tiles = cameras.map((camera) => new Tile(camera, api));
    replace(grid, tiles.map((tile) => tile.node));
    if (scope !== "read") {
      addMissedForms(api, tiles).catch((error) => replace(status, notice("error", "Rules unavailable", error.message)));
    }
    const interval = frameInterval(tiles.length);
    for (const tile of tiles) stops.push(every(interval, (signal) => tile.refreshFrame(signal)));
    stops.push(every(2000, refreshHealth));
    stops.push(every(5000, refreshAlerts));
    stops.push(feed.subscribe(() => refreshAlerts().catch(() => {})));
  }

  start();
  return () => {
    stopped = true;
    for (const stop of stops) stop();
    for (const tile of tiles) tile.stop();
  };
}
