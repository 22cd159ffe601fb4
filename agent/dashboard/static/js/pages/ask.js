// Ask: a free question, answered with the model's reasoning. About a camera's last seconds
// it reads the buffered clip (clip times placed on the wall clock); about a longer period,
// or every camera, it reads the archive's records: the answer cites windows ([w3] opens
// that window), and counts and last times come from the archive, shown beside it.

import { citedText } from "../citations.js";
import { field, h, notice, options, pageHeading, replace } from "../dom.js";
import { dateTime, span } from "../format.js";
import { placedText } from "../placed.js";
import { CUSTOM, PRESETS, TimeRange } from "../time-range.js";
import { WindowTile } from "../window-tile.js";
import { WindowView } from "../window-view.js";

const LIVE = "live";
const PERIODS = [[LIVE, "Last seconds (live clip)"], ...PRESETS, ["all", "Any time"], CUSTOM];

function failure(error) {
  if (error.status === 503 && /archive/.test(error.message)) {
    return ["warning", "The archive isn't configured",
      "Questions about the past read the archive of analysed windows, and this Vigil API has none. "
      + "Configure the archive section of vigil.yaml and run the archiver (vigil up runs one)."];
  }
  if (error.status === 503) return ["warning", "Engine unavailable", error.message];
  if (error.status === 504) return ["warning", "The engine took too long", error.message];
  if (error.status === 404) return ["empty", "No recent frames", `${error.message}. Is the camera offline?`];
  if (error.status === 422) return ["error", "Check the question", error.message];
  return ["error", "No answer", error.message];
}

function usage(result) {
  return `${result.prompt_tokens}+${result.completion_tokens} tokens, ${Math.round(result.latency_ms)} ms`;
}

function reasoningView(placed, raw) {
  return raw ? h("details", { open: true }, h("summary", { text: "Reasoning" }),
    placedText(placed, raw, "reasoning")) : null;
}

function liveView(result) {
  return h("section", { class: "panel answer" },
    h("h2", { text: "Answer" }),
    result.answer ? placedText(result.answer_placed, result.answer, "summary")
      : notice("warning", "The answer was not in the expected form", result.failure || ""),
    reasoningView(result.reasoning_placed, result.reasoning),
    h("p", { class: "muted", text: `${result.frames} frames, ${span(result.clip_start, result.clip_end)}, `
      + usage(result) }));
}

function factsTable(facts, cameraNames) {
  const head = ["Rule", "Camera", "Separate times", "Windows", "Alerts", "First", "Last"];
  return h("div", { class: "table-wrap" }, h("table", { class: "history-facts" },
    h("caption", { text: "Counted from the archive" }),
    h("thead", {}, h("tr", {}, head.map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, facts.map((fact) => h("tr", {},
      h("td", { text: fact.rule }), h("td", { text: cameraNames.get(fact.camera) || fact.camera }),
      h("td", { text: fact.occurrences }), h("td", { text: fact.windows }), h("td", { text: fact.alerts }),
      h("td", { text: dateTime(fact.first) }), h("td", { text: dateTime(fact.last) }))))));
}

function periodText(result) {
  const where = result.camera ? `camera ${result.camera}` : "every camera";
  const since = result.since ? dateTime(result.since) : "the archive's start";
  return `${where}, ${since} to ${dateTime(result.until)}`;
}

function tileList(label, tiles) {
  return h("ul", { class: "grid hits", "aria-label": label }, tiles.map((tile) => tile.node));
}

/** The history answer: text with citations, the archive's counts, and the windows read. */
function historyView(result, tiles, view, cameraNames) {
  if (result.no_evidence) {
    return h("section", { class: "panel answer" }, h("h2", { text: "Answer" }),
      notice("empty", "No evidence in that period",
        `The archive holds no window or alert on this question for ${periodText(result)}.`));
  }
  const cited = result.cited.map((id) => [...tiles.values()].find((t) => t.window.id === id)).filter(Boolean);
  const others = [...tiles.values()].filter((tile) => !cited.includes(tile));
  const open = (tile, button) => view.open(tile, button);
  return h("section", { class: "panel answer history" },
    h("h2", { text: "Answer" }),
    result.answer ? citedText(result.answer, tiles, open, "summary")
      : notice("warning", "The answer was not in the expected form", result.failure || ""),
    result.reasoning ? h("details", { open: true }, h("summary", { text: "Reasoning" }),
      citedText(result.reasoning, tiles, open, "reasoning")) : null,
    result.facts.length ? factsTable(result.facts, cameraNames) : null,
    result.counts_are_lower_bounds ? h("p", { class: "muted",
      text: "Counted over the newest detections only: the real counts may be higher." }) : null,
    cited.length ? [h("h3", { text: `Cited windows (${cited.length})` }), tileList("Cited windows", cited)] : null,
    others.length ? h("details", { class: "windows-read" },
      h("summary", { text: `${cited.length ? "Other windows" : "Windows"} the model read (${others.length})` }),
      tileList("Windows read", others)) : null,
    h("p", { class: "muted", text: `History of ${periodText(result)}, ${result.windows.length} windows read, `
      + usage(result) }));
}

class AskForm {
  constructor(onAsk) {
    this.camera = h("select", { name: "camera" });
    this.seconds = h("input", { type: "number", name: "seconds", min: "1", max: "60", step: "1", value: "8" });
    this.question = h("textarea", { name: "question", rows: "3", required: true, minlength: "3",
      maxlength: "2000", placeholder: "Is anyone riding a bicycle?" });
    this.button = h("button", { type: "submit", text: "Ask" });
    this.period = new TimeRange(PERIODS, { range: LIVE }, () => this.#showSeconds());
    this.secondsField = field("Last seconds", this.seconds);
    this.node = h("form", { class: "panel ask", onsubmit: (event) => { event.preventDefault(); onAsk(); } },
      field("Camera", this.camera), field("Period", this.period.range), this.secondsField, this.period.custom,
      field("Question", this.question), this.button);
    options(this.camera, [], "", "Every camera");
  }

  /** The request body, or {invalid: reason}. */
  body() {
    const question = this.question.value.trim();
    const camera = this.camera.value || undefined;
    if (this.period.range.value === LIVE) {
      if (!camera) return { invalid: "A question about the last seconds needs a camera: pick one, or a period." };
      return { camera, question, seconds: Number(this.seconds.value) };
    }
    const { since, until, invalid } = this.period.bounds();
    if (invalid) return { invalid };
    // An open start is the archive's start: without one, the API would read a camera's
    // last seconds instead.
    return { camera, question, since: since ?? 0, until: until ?? undefined };
  }

  #showSeconds() {
    this.secondsField.hidden = this.period.range.value !== LIVE;
  }
}

export function mount(root, { api }) {
  const form = new AskForm(ask);
  const result = h("div", { class: "result", "aria-live": "polite" });
  const view = new WindowView(api);
  let cameraNames = new Map();
  let tiles = [];
  let controller = new AbortController();

  function clear() {
    controller.abort();
    controller = new AbortController();
    for (const tile of tiles) tile.stop();
    tiles = [];
  }

  function showHistory(answer, signal) {
    const byTag = new Map(answer.windows.map((w) => [w.tag,
      new WindowTile(w, cameraNames.get(w.camera) || w.camera, (tile) => view.open(tile), `[${w.tag}]`)]));
    tiles = [...byTag.values()];
    replace(result, historyView(answer, byTag, view, cameraNames));
    for (const tile of tiles) tile.load(api, signal);
  }

  async function ask() {
    clear();
    const body = form.body();
    if (body.invalid) return replace(result, notice("error", "Check the period", body.invalid));
    const { signal } = controller;
    form.button.disabled = true;
    const over = body.seconds ? "the clip" : "the archive's records of the period";
    replace(result, notice("info", "Thinking…", `The model is reasoning over ${over}.`));
    try {
      const answer = await api.send("POST", "/v1/ask", body, signal);
      if (answer.mode === "history") showHistory(answer, signal);
      else replace(result, liveView(answer));
    } catch (error) {
      if (error.name !== "AbortError") replace(result, notice(...failure(error)));
    } finally {
      form.button.disabled = false;
    }
  }

  replace(root, pageHeading("Ask"), form.node, result, view.node);
  api.get("/v1/cameras").then(
    (cameras) => {
      cameraNames = new Map(cameras.map((c) => [c.id, c.name || c.id]));
      // A question about the last seconds is the common one: it needs a camera.
      options(form.camera, [...cameraNames], form.camera.value || cameras[0]?.id, "Every camera");
    },
    (error) => replace(result, notice("error", "Cameras unavailable", error.message)));
  return () => {
    clear();
    view.stop();
  };
}
