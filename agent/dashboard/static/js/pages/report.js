// One report (#/reports/{id}): its summary, each [wN] a link to the window it cites (shown
// below as tiles: the thumbnail, and the clip while the frames are buffered), the counts,
// the timeline (alerts link to their page), and its printable page.

import { citation, citedText } from "../citations.js";
import { h, notice, pageHeading, replace } from "../dom.js";
import { dateTime } from "../format.js";
import { openPrintable } from "../report-print.js";
import { WindowTile } from "../window-tile.js";
import { WindowView } from "../window-view.js";
import { alertCount, cameraList } from "./reports.js";

function table(className, caption, head, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: className },
    caption ? h("caption", { text: caption }) : null,
    h("thead", {}, h("tr", {}, head.map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, rows)));
}

// A cited window as the archive serves it; the report's record of it where the archive
// no longer has it (kept less long than reports), without picture or verdicts.
async function archived(api, window, signal) {
  try {
    return await api.get(`/v1/archive/windows/${encodeURIComponent(window.window)}`, signal);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    return { id: window.window, camera: window.camera, start: window.start, end: window.end, caption: window.caption,
      unchanged_since: null, verdicts: [], thumbnail_url: null, clip_url: null };
  }
}

function facts(report, cameraNames) {
  const alerts = alertCount(report);
  const rows = [
    ["Period", `${dateTime(report.since)} → ${dateTime(report.until)}`],
    ["Cameras", cameraList(report, cameraNames)],
    ["Made", `${dateTime(report.created_at)}, ${report.schedule ? `by schedule ${report.schedule}` : "on request"}`],
    ["Notable", report.notable ? "yes" : "no: nothing happened, and no model call was made"],
    ["Alerts", `${alerts}${report.counts_are_lower_bounds ? " or more" : ""}`],
    ["Model calls", String(report.engine_calls)],
  ];
  return h("dl", { class: "facts report-facts" },
    rows.map(([name, value]) => [h("dt", { text: name }), h("dd", { text: value })]));
}

function summary(report, tiles, onCite) {
  return h("section", { class: "panel", "aria-labelledby": "summary-title" },
    h("h2", { id: "summary-title", text: "Summary" }),
    report.summary ? citedText(report.summary, tiles, onCite, "summary report-summary") : null,
    report.summary_failure ? notice("warning", "The summary failed", report.summary_failure) : null,
    report.windows_left_out ? h("p", { class: "muted", text: `${report.windows_left_out} record lines did not fit `
      + "the model's context and were left out of the summary." }) : null);
}

function countsTable(report, cameraNames) {
  if (!report.counts.length) return h("p", { class: "muted", text: "No rule was detected and no alert opened." });
  const head = ["Rule", "Camera", "Alerts", "Windows", "Separate times", "First", "Last"];
  const rows = report.counts.map((count) => h("tr", {},
    h("td", { text: count.rule }), h("td", { text: cameraNames.get(count.camera) || count.camera }),
    h("td", { text: count.alerts }), h("td", { text: count.windows }), h("td", { text: count.occurrences }),
    h("td", { text: dateTime(count.first) }), h("td", { text: dateTime(count.last) })));
  const lower = report.counts_are_lower_bounds ? h("p", { class: "muted",
    text: "Counted over the newest detections only: the real counts may be higher." }) : null;
  return [table("report-counts", "Counted from the archive", head, rows), lower];
}

function what(entry) {
  if (entry.kind !== "alert") return "scene";
  const label = `alert: ${entry.rule || "rule"}`;
  return entry.alert_id ? h("a", { href: `#/alerts/${encodeURIComponent(entry.alert_id)}`, text: label }) : label;
}

// A stretch's window: a link to its tile where the summary cites it, else its tag.
function windowCell(entry, tiles, onCite) {
  if (!entry.tag) return "—";
  return tiles.has(entry.tag) ? citation(entry.tag, tiles.get(entry.tag), onCite) : `[${entry.tag}]`;
}

function timelineTable(report, cameraNames, tiles, onCite) {
  if (!report.timeline.length) return h("p", { class: "muted", text: "Nothing out of the ordinary." });
  const head = ["From", "To", "Camera", "What", "Seen", "Window"];
  const rows = report.timeline.map((entry) => h("tr", { dataset: { kind: entry.kind } },
    h("td", { text: dateTime(entry.start) }), h("td", { text: dateTime(entry.end) }),
    h("td", { text: cameraNames.get(entry.camera) || entry.camera }), h("td", {}, what(entry)),
    h("td", { text: entry.text }), h("td", {}, windowCell(entry, tiles, onCite))));
  return table("report-timeline", null, head, rows);
}

function citedWindows(tiles) {
  if (!tiles.size) return h("p", { class: "muted", text: "The summary cites no window." });
  return h("ul", { class: "grid hits", "aria-label": "Cited windows" }, [...tiles.values()].map((tile) => tile.node));
}

export function mount(root, { api }, route) {
  const path = `/v1/reports/${encodeURIComponent(route.id)}`;
  const message = h("div", { class: "message", "aria-live": "polite" });
  const print = h("button", { type: "button", class: "quiet", text: "Print", disabled: true,
    onclick: () => openPrintable(api, `${path}/print`)
      .catch((error) => replace(message, notice("error", "The printable page is unavailable", error.message))) });
  const body = h("div", {}, notice("info", "Loading the report…"));
  const view = new WindowView(api);
  const controller = new AbortController();
  let tiles = new Map();

  // A citation brings its window's tile into view and gives it the focus (Enter opens it).
  function showTile(tile) {
    for (const node of root.querySelectorAll(".cited-target")) node.classList.remove("cited-target");
    tile.node.classList.add("cited-target");
    tile.node.scrollIntoView({ block: "center" });
    tile.button.focus({ preventScroll: true });
  }

  async function load() {
    const { signal } = controller;
    const [report, cameras] = await Promise.all([api.get(path, signal), api.get("/v1/cameras", signal).catch(() => [])]);
    const cameraNames = new Map(cameras.map((c) => [c.id, c.name || c.id]));
    const byId = new Map(report.windows.map((w) => [w.window, w]));
    const cited = report.cited.map((id) => byId.get(id)).filter(Boolean); // in the summary's order
    const windows = await Promise.all(cited.map((w) => archived(api, w, signal)));
    tiles = new Map(cited.map((w, index) => [w.tag, new WindowTile(windows[index],
      cameraNames.get(w.camera) || w.camera, (tile) => view.open(tile), `[${w.tag}]`)]));
    replace(body, facts(report, cameraNames), summary(report, tiles, showTile),
      h("section", { class: "panel" }, h("h2", { text: `Cited windows (${tiles.size})` }), citedWindows(tiles)),
      h("section", { class: "panel" }, h("h2", { text: "Counts" }), countsTable(report, cameraNames)),
      h("section", { class: "panel" }, h("h2", { text: "Timeline" }), timelineTable(report, cameraNames, tiles, showTile)));
    print.disabled = false;
    for (const tile of tiles.values()) tile.load(api, signal);
  }

  replace(root, h("p", {}, h("a", { href: "#/reports", text: "← Reports" })), pageHeading("Report", print),
    message, body, view.node);
  load().catch((error) => {
    if (error.name === "AbortError") return;
    replace(body, notice("error", error.status === 404 ? "No such report" : "Report unavailable", error.message));
  });
  return () => {
    controller.abort();
    for (const tile of tiles.values()) tile.stop();
    view.stop();
  };
}
