// "Mark a missed event" under a camera's tile (admin keys): a period where one of the
// camera's rules should have alerted and did not. The period must still be in the camera's
// frame buffer (about the last 10 minutes), so it starts as the last 30 s when the form
// opens; the server keeps its footage and answers with the clip it kept, or says why not.

import { failureNotice, field, h, notice, options, replace } from "./dom.js";
import { fromUtcInput, span, toUtcSecondsInput } from "./format.js";

const DEFAULT_S = 30;
const NOTE_MAX = 500;

/** The rules about the camera (switched on there or not). */
export function rulesOf(rules, cameraId) {
  return rules.filter((rule) => rule.cameras.includes("*") || rule.cameras.includes(cameraId));
}

export class MissedEventForm {
  constructor(api, camera, rules) {
    this.api = api;
    this.camera = camera;
    this.hasRules = rules.length > 0;
    const name = camera.name || camera.id;
    this.rule = options(h("select", { name: "rule", required: true }), rules.map((rule) => rule.id), rules[0]?.id);
    this.start = h("input", { type: "datetime-local", step: "1", name: "start", required: true });
    this.end = h("input", { type: "datetime-local", step: "1", name: "end", required: true });
    this.note = h("input", { type: "text", name: "note", maxlength: String(NOTE_MAX), autocomplete: "off",
      placeholder: "What the rule missed (optional)" });
    this.button = h("button", { type: "submit", text: "Mark missed", disabled: !rules.length });
    this.message = h("div", { class: "message", "aria-live": "polite" });
    const form = h("form", { "aria-label": `Mark a missed event on ${name}`,
      onsubmit: (event) => { event.preventDefault(); this.#mark(); } },
      rules.length ? null : notice("empty", "No rules on this camera", "A missed event belongs to a rule."),
      field("Rule", this.rule), field("Start (UTC)", this.start), field("End (UTC)", this.end),
      field("Note", this.note), h("div", { class: "actions" }, this.button), this.message);
    this.node = h("details", { class: "missed-event", ontoggle: () => this.#opened() },
      h("summary", { text: "Mark a missed event" }), form);
  }

  // Each time it opens, the period is the last 30 s again unless one was typed.
  #opened() {
    if (!this.node.open || (this.start.value && this.end.value)) return;
    this.#lastSeconds();
  }

  #lastSeconds() {
    const nowS = Date.now() / 1000;
    this.start.value = toUtcSecondsInput(nowS - DEFAULT_S);
    this.end.value = toUtcSecondsInput(nowS);
  }

  async #mark() {
    const start = fromUtcInput(this.start.value);
    const end = fromUtcInput(this.end.value);
    if (start === null || end === null) {
      return replace(this.message, notice("error", "Not marked", "Give the period's start and end."));
    }
    const body = { camera: this.camera.id, rule: this.rule.value, start, end, note: this.note.value.trim() };
    this.button.disabled = true;
    try {
      const missed = await this.api.send("POST", "/v1/feedback/missed", body);
      const clip = missed.clip_start != null && missed.clip_end != null
        ? ` Footage kept: ${span(missed.clip_start, missed.clip_end)}.` : "";
      replace(this.message, notice("info", `Missed event marked for ${missed.rule}`,
        `${span(missed.start, missed.end)}, by ${missed.by}.${clip}`));
      this.note.value = "";
      this.#lastSeconds();
    } catch (error) {
      replace(this.message, failureNotice(error, "Not marked"));
    } finally {
      this.button.disabled = !this.hasRules;
    }
  }
}
