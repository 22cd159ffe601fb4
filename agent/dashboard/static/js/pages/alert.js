// Alert detail: the rule's question, every window of the alert with its verdict, root cause
// and reasoning (clip times placed on the wall clock), the evidence clip (its frames carry
// their burned timestamps) with the zones the model was shown outlined, acknowledgement,
// feedback (`alert-feedback.js`) and the context clip kept for it (`context-clip.js`).

import { FeedbackSection } from "../alert-feedback.js";
import { showClip } from "../clip.js";
import { ContextClip } from "../context-clip.js";
import { failureNotice, h, notice, pageHeading, replace } from "../dom.js";
import { dateTime, percent, span } from "../format.js";
import { drawOutlines } from "../outlines.js";
import { PictureLayer } from "../picture-layer.js";
import { placedText } from "../placed.js";

// The event's onset (earliest evidence of the streak) beside the time the alert opened.
function opened(alert) {
  if (alert.onset_at === null || alert.onset_at === undefined) return ["Opened", dateTime(alert.opened_at)];
  const later = Math.max(0, alert.opened_at - alert.onset_at);
  return ["Onset → opened", [h("time", { class: "onset", text: dateTime(alert.onset_at) }), " → ",
    h("time", { class: "opened", text: dateTime(alert.opened_at) }), ` (${later.toFixed(1)} s later)`]];
}

const known = (value) => value !== null && value !== undefined;

// "24 s", "3 min 12 s", "2 h 5 min"
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// How long the event was seen: from its onset to the end of the latest positive evidence.
function seen(alert) {
  if (!known(alert.last_seen)) return ["Seen for", "—"];
  const lastSeen = h("time", { class: "last-seen", text: dateTime(alert.last_seen) });
  if (!known(alert.seen_for_s) || !known(alert.onset_at)) return ["Last seen", lastSeen];
  return ["Seen for", [h("span", { class: "seen-for", text: duration(alert.seen_for_s) }), " (onset ",
    h("time", { class: "seen-onset", text: dateTime(alert.onset_at) }), " → last seen ", lastSeen, ")"]];
}

function facts(alert) {
  const rows = [
    ["Camera", alert.camera], ["Rule", alert.rule], ["Severity", alert.severity],
    ["State", alert.state], opened(alert), seen(alert),
    ["Closed", alert.closed_at ? dateTime(alert.closed_at) : "—"],
    ["Confidence", percent(alert.confidence)], ["Positive windows", String(alert.windows)],
    ["Acknowledged", alert.acknowledged
      ? `by ${alert.acknowledged_by} at ${dateTime(alert.acknowledged_at)}` : "no"],
  ];
  return h("dl", { class: "facts" }, rows.map(([name, value]) => [h("dt", { text: name }), h("dd", {}, value)]));
}

function rootCause(alert) {
  if (alert.summary) return placedText(alert.summary_placed, alert.summary, "summary");
  if (alert.summary_failure) return notice("warning", "No summary", alert.summary_failure);
  return notice("info", "Summary pending", "The root-cause pass runs after an alert opens.");
}

function reasoning(alert) {
  if (!alert.reasoning) return h("p", { class: "muted", text: "No reasoning recorded yet." });
  return h("details", { open: true }, h("summary", { text: "The model's reasoning" }),
    placedText(alert.reasoning_placed, alert.reasoning, "reasoning"));
}

function verdictTable(verdicts) {
  if (!verdicts.length) return h("p", { class: "muted", text: "No windows recorded." });
  const head = ["Window", "Event", "Detected", "Confidence", "Evidence", "Description"];
  const rows = verdicts.map((v) => h("tr", {},
    h("td", { text: span(v.start, v.end) }), h("td", { text: v.type.replace("alert.", "") }),
    h("td", { text: v.detected ? "yes" : "no" }), h("td", { text: percent(v.confidence) }),
    h("td", { text: v.evidence ? span(v.evidence.start, v.evidence.end) : "—" }),
    h("td", { text: v.description })));
  return h("div", { class: "table-wrap" }, h("table", { class: "verdicts" },
    h("thead", {}, h("tr", {}, head.map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, rows)));
}

// The outlines the model was shown ("A · lane"), named in words under the clip too.
function zoneLegend(zones) {
  return h("p", { class: "zone-legend muted" }, "Zones the model was shown: ",
    zones.map((zone, i) => [i ? ", " : "", h("strong", { text: [zone.label, zone.name].filter(Boolean).join(" · ") }),
      zone.colour ? ` (${zone.colour})` : ""]));
}

class Evidence {
  constructor(api, alertId) {
    this.api = api;
    this.alertId = alertId;
    this.url = null;
    this.layer = null;
    this.node = h("div", { class: "evidence" }, notice("info", "Loading the evidence clip…"));
  }

  /** The clip's video element once it plays, null when there is none. */
  async load(zones = []) {
    try {
      const clip = await this.api.objectUrl(`/v1/alerts/${this.alertId}/evidence.mp4`);
      this.url = clip.url;
      const stage = h("div", { class: "stage" });
      replace(this.node, stage);
      const video = showClip(stage, clip.url, "Evidence clip with burned timestamps");
      if (zones.length) this.#outline(stage, video, zones);
      return video;
    } catch (error) {
      replace(this.node, notice(error.status === 404 ? "empty" : "error", "No evidence clip", error.message));
      return null;
    }
  }

  stop() {
    this.layer?.stop();
    if (this.url) URL.revokeObjectURL(this.url);
  }

  #outline(stage, video, zones) {
    this.layer = new PictureLayer("evidence-layer");
    stage.append(this.layer.node);
    this.node.append(zoneLegend(zones));
    this.layer.onChange(() => drawOutlines(this.layer, zones.map((zone) => ({ ...zone, kind: "zone" }))));
    const fit = () => this.layer.fit(video.videoWidth, video.videoHeight);
    video.addEventListener("loadedmetadata", fit);
    if (video.readyState >= 1) fit();
  }
}

// Where the evidence clip starts on the wall clock, as the API encodes it.
const clipStart = (alert) => alert.evidence_clip_start || alert.onset_at || alert.opened_at;

export function mount(root, { api, feed, scope }, route) {
  const id = route.id;
  const body = h("div", { class: "detail" });
  const evidence = new Evidence(api, id);
  const feedback = new FeedbackSection(api, id, scope !== "read");
  const context = new ContextClip(api, id);
  const ackMessage = h("div", { class: "message", "aria-live": "polite" });
  const ackButton = h("button", { type: "button", text: "Acknowledge" });
  const heading = pageHeading("Alert");
  // The panels stay in place as the alert changes, so focus and typed text stay too.
  const panels = {
    facts: h("section", { class: "panel" }),
    evidence: h("section", { class: "panel" }, h("h2", { text: "Evidence" }), evidence.node),
    cause: h("section", { class: "panel" }),
    windows: h("section", { class: "panel wide" }),
  };
  replace(root, h("p", {}, h("a", { href: "#/alerts", text: "← All alerts" })), heading, body);

  function show(alert) {
    heading.querySelector("h1").textContent = alert.question || alert.rule;
    ackButton.disabled = alert.acknowledged;
    ackButton.textContent = alert.acknowledged ? "Acknowledged" : "Acknowledge";
    replace(panels.facts, facts(alert), h("div", { class: "actions" }, ackButton), ackMessage);
    replace(panels.cause, h("h2", { text: "Root cause" }), rootCause(alert), reasoning(alert));
    replace(panels.windows, h("h2", { text: `Windows (${alert.verdicts.length})` }), verdictTable(alert.verdicts));
    feedback.show(alert);
    context.show(alert);
    if (!panels.facts.isConnected) {
      replace(body, panels.facts, panels.evidence, feedback.node, context.node, panels.cause,
        panels.windows);
    }
  }

  async function load() {
    try {
      const alert = await api.get(`/v1/alerts/${id}`);
      show(alert);
      return alert;
    } catch (error) {
      replace(body, notice("error", error.status === 404 ? "No such alert" : "Alert unavailable", error.message));
      return null;
    }
  }

  ackButton.addEventListener("click", async () => {
    ackButton.disabled = true;
    try {
      await api.send("POST", `/v1/alerts/${id}/acknowledge`);
      replace(ackMessage);
      await load();
    } catch (error) {
      replace(ackMessage, failureNotice(error, "Not acknowledged"));
      ackButton.disabled = false;
    }
  });

  load().then(async (alert) => {
    if (!alert) return;
    const video = await evidence.load(Array.isArray(alert.zones) ? alert.zones : []);
    if (video) feedback.useVideo(video, clipStart(alert));
  });
  const unsubscribe = feed.subscribe((event) => {
    if (event.payload.alert_id === id) load();
  });
  return () => {
    unsubscribe();
    evidence.stop();
    feedback.stop();
    context.stop();
  };
}
