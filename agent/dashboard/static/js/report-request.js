// The form that makes a report now: the cameras ticked (none: every camera) over a UTC
// period, the last eight hours to start with. The API bounds the period; its refusal is
// shown as it says it.

import { field, h, replace } from "./dom.js";
import { fromUtcInput, toUtcInput } from "./format.js";

const DEFAULT_S = 8 * 3600;

export class ReportRequestForm {
  constructor(onMake) {
    const untilS = Math.ceil(Date.now() / 60_000) * 60; // the minute now ends, so now is in
    this.from = h("input", { type: "datetime-local", name: "since", required: true, value: toUtcInput(untilS - DEFAULT_S) });
    this.to = h("input", { type: "datetime-local", name: "until", required: true, value: toUtcInput(untilS) });
    this.boxes = [];
    this.choices = h("span", { class: "muted", text: "Loading cameras…" });
    this.button = h("button", { type: "submit", text: "Make report" });
    this.message = h("div", { class: "message", "aria-live": "polite" });
    this.node = h("form", { class: "panel report-request", "aria-labelledby": "report-request-title",
      onsubmit: (event) => { event.preventDefault(); onMake(this); } },
      h("h2", { id: "report-request-title", text: "Make a report now" }),
      h("fieldset", { class: "checks" }, h("legend", { text: "Cameras" }), this.choices,
        h("small", { class: "hint", text: "None ticked: every camera." })),
      h("div", { class: "period" }, field("From (UTC)", this.from), field("To (UTC)", this.to)),
      h("div", { class: "actions" }, this.button), this.message);
  }

  /** The cameras to choose from, as [id, name] pairs. */
  setCameras(cameras) {
    this.boxes = cameras.map(([id]) => h("input", { type: "checkbox", name: "camera", value: id }));
    replace(this.choices, cameras.map(([, name], index) => h("label", { class: "check" }, this.boxes[index], ` ${name}`)));
  }

  /** The request body, or {invalid: reason}. */
  body() {
    const since = fromUtcInput(this.from.value);
    const until = fromUtcInput(this.to.value);
    if (since === null || until === null) return { invalid: "Give the period's start and end." };
    if (since >= until) return { invalid: "The period ends before it starts." };
    const cameras = this.boxes.filter((box) => box.checked).map((box) => box.value);
    return { cameras, since, until };
  }
}
