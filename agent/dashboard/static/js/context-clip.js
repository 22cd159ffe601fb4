// The context clip the archive keeps for feedback (from before the onset to after the event
// was last seen), loaded when asked for: it can be minutes long. The alert links it once
// the archiver has kept it.

import { h, notice, replace } from "./dom.js";
import { showClip } from "./clip.js";

export class ContextClip {
  constructor(api, alertId) {
    this.api = api;
    this.alertId = alertId;
    this.url = null;
    this.button = h("button", { type: "button", text: "Show the context clip" });
    this.stage = h("div", { class: "stage" });
    this.node = h("section", { class: "panel", hidden: true },
      h("h2", { text: "Context" }),
      h("p", { class: "hint", text: "The footage kept around the event for feedback and eval." }),
      this.button, this.stage);
    this.button.addEventListener("click", () => this.#load());
  }

  show(alert) {
    this.node.hidden = !(alert.links && alert.links.context);
  }

  stop() {
    if (this.url) URL.revokeObjectURL(this.url);
  }

  async #load() {
    this.button.disabled = true;
    try {
      const clip = await this.api.objectUrl(`/v1/alerts/${this.alertId}/context.mp4`);
      this.url = clip.url;
      showClip(this.stage, clip.url, "Context clip");
      this.button.hidden = true;
    } catch (error) {
      replace(this.stage, notice(error.status === 404 ? "empty" : "error", "No context clip", error.message));
      this.button.disabled = false;
    }
  }
}
