// Feedback on an alert, on its detail page: "Confirm" or "False alarm", one click each (or
// the keys c and f outside text fields), with an optional note. Confirm may carry the event's
// true onset and end where the alert had them wrong: typed, or taken from the evidence
// video's current time. Giving it again replaces it. A read key sees it, cannot give it.

import { failureNotice, field, h, notice, replace } from "./dom.js";
import { dateTime, fromUtcInput, toUtcSecondsInput } from "./format.js";

const LABELS = { confirmed: "Confirmed", false_alarm: "False alarm" };
const SHORTCUTS = { c: "confirmed", f: "false_alarm" };
const NOTE_MAX = 500;

const known = (value) => value !== null && value !== undefined;

// A key pressed in a field is typing, not a shortcut.
function typing(target) {
  return target instanceof Element && (target.isContentEditable || Boolean(target.closest("input, textarea, select")));
}

function given(feedback) {
  if (!feedback) return h("p", { class: "muted", text: "No feedback yet." });
  const times = [known(feedback.onset) ? `true onset ${dateTime(feedback.onset)}` : null,
    known(feedback.end) ? `true end ${dateTime(feedback.end)}` : null].filter(Boolean).join(" · ");
  return h("div", { class: "feedback-given", dataset: { verdict: feedback.verdict } },
    h("p", {},
      h("span", { class: `badge verdict-${feedback.verdict}`, text: LABELS[feedback.verdict] || feedback.verdict }),
      " by ", h("strong", { class: "feedback-by", text: feedback.by }), " at ",
      h("time", { class: "feedback-at", text: dateTime(feedback.at) })),
    feedback.note ? h("p", { class: "feedback-note", text: feedback.note }) : null,
    times ? h("p", { class: "feedback-times muted", text: times }) : null);
}

// A time field read as epoch seconds: null when empty, {invalid} when half typed.
function timeOf(input, name) {
  if (input.validity.badInput) return { invalid: `Give the true ${name} as a whole date and time, or leave it empty.` };
  return { value: fromUtcInput(input.value) };
}

export class FeedbackSection {
  #ready = false;
  #busy = false;
  #onKey = (event) => this.#shortcut(event);

  /** `canGive`: the key in use may change things (an admin key). */
  constructor(api, alertId, canGive) {
    this.api = api;
    this.alertId = alertId;
    this.canGive = canGive;
    this.current = h("div", { class: "feedback-current", "aria-live": "polite" });
    this.note = h("input", { type: "text", name: "note", maxlength: String(NOTE_MAX), autocomplete: "off",
      placeholder: "What was seen (optional)" });
    this.onset = h("input", { type: "datetime-local", step: "1", name: "onset" });
    this.end = h("input", { type: "datetime-local", step: "1", name: "end" });
    this.onsetFromVideo = this.#fromVideoButton("Onset = video time", this.onset);
    this.endFromVideo = this.#fromVideoButton("End = video time", this.end);
    this.confirm = h("button", { type: "button", text: "Confirm", "aria-keyshortcuts": "c",
      onclick: () => this.give("confirmed") });
    this.falseAlarm = h("button", { type: "button", class: "danger", text: "False alarm", "aria-keyshortcuts": "f",
      onclick: () => this.give("false_alarm") });
    this.message = h("div", { class: "message", "aria-live": "polite" });
    this.node = this.#layout();
    this.#enable();
    document.addEventListener("keydown", this.#onKey);
  }

  /** The alert as the API gives it: shows its feedback, and the buttons work from now. */
  show(alert) {
    this.#ready = true;
    replace(this.current, given(alert.feedback));
    this.#enable();
  }

  /** The evidence video plays: its current time can set the true onset or end. */
  useVideo(video, clipStartS) {
    this.video = video;
    this.clipStartS = clipStartS;
    this.onsetFromVideo.hidden = false;
    this.endFromVideo.hidden = false;
  }

  async give(verdict) {
    if (!this.canGive || !this.#ready || this.#busy) return;
    const body = this.#body(verdict);
    if (body.invalid) return replace(this.message, notice("error", "Feedback not saved", body.invalid));
    this.#busy = true;
    this.#enable();
    try {
      const alert = await this.api.send("POST", `/v1/alerts/${this.alertId}/feedback`, body);
      replace(this.current, given(alert.feedback));
      replace(this.message, notice("info", `Saved: ${LABELS[verdict]}`, "Giving feedback again replaces it."));
    } catch (error) {
      replace(this.message, failureNotice(error, "Feedback not saved"));
    } finally {
      this.#busy = false;
      this.#enable();
    }
  }

  stop() {
    document.removeEventListener("keydown", this.#onKey);
  }

  #layout() {
    const readOnly = this.canGive ? null
      : notice("info", "Signed in with a read key", "You can see the feedback; giving it needs an admin key.");
    return h("section", { class: "panel feedback", "aria-labelledby": "feedback-title" },
      h("h2", { id: "feedback-title", text: "Feedback" }), this.current, readOnly,
      h("div", { class: "actions" }, this.confirm, this.falseAlarm),
      h("small", { class: "hint",
        text: "Keys: c confirms, f marks a false alarm (outside text fields). Giving it again replaces it." }),
      field("Note", this.note, "Optional, up to 500 characters"),
      h("fieldset", { class: "feedback-times" }, h("legend", { text: "With Confirm: the event's true times (UTC)" }),
        h("div", { class: "period" }, field("True onset", this.onset), field("True end", this.end)),
        h("div", { class: "actions" }, this.onsetFromVideo, this.endFromVideo),
        h("small", { class: "hint", text: "Only where the alert had them wrong; leave empty otherwise." })),
      this.message);
  }

  #fromVideoButton(text, input) {
    return h("button", { type: "button", class: "quiet", text, hidden: true, onclick: () => {
      if (this.video) input.value = toUtcSecondsInput(this.clipStartS + this.video.currentTime);
    } });
  }

  #body(verdict) {
    const body = { verdict, note: this.note.value.trim() };
    if (verdict !== "confirmed") return body;
    for (const [name, input] of [["onset", this.onset], ["end", this.end]]) {
      const time = timeOf(input, name);
      if (time.invalid) return time;
      if (time.value !== null) body[name] = time.value;
    }
    return body;
  }

  #enable() {
    const off = !this.canGive || !this.#ready || this.#busy;
    for (const button of [this.confirm, this.falseAlarm]) button.disabled = off;
    for (const control of [this.note, this.onset, this.end, this.onsetFromVideo, this.endFromVideo]) {
      control.disabled = !this.canGive;
    }
  }

  #shortcut(event) {
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const verdict = SHORTCUTS[event.key];
    if (!verdict || !this.node.isConnected) return;
    event.preventDefault();
    this.give(verdict);
  }
}
