// An archived window as a tile: its thumbnail, time, camera, caption and the rules it
// detected; pressing it hands the window to whoever shows it (a WindowView).

import { h } from "./dom.js";
import { dateTime } from "./format.js";

export class WindowTile {
  constructor(window, cameraName, onOpen, label = null) {
    this.window = window;
    this.cameraName = cameraName;
    this.url = null;
    this.image = h("img", { class: "frame", alt: "" });
    this.screen = h("span", { class: "screen" }, this.image);
    const detected = window.verdicts.filter((v) => v.detected);
    this.button = h("button", { type: "button", class: "hit-open", onclick: () => onOpen(this) },
      this.screen,
      h("span", { class: "hit-text" },
        h("span", { class: "hit-meta" },
          label ? h("span", { class: "badge tag", text: label }) : null,
          h("time", { class: "when", text: dateTime(window.start) }),
          h("strong", { class: "hit-camera", text: cameraName })),
        h("span", { class: "caption", text: window.caption || "No caption" }),
        h("span", { class: "tags" },
          detected.length ? detected.map((v) => h("span", { class: "badge detected", text: v.rule }))
            : h("span", { class: "muted", text: "no rule detected" }),
          window.clip_url ? h("span", { class: "badge clip", text: "clip" }) : null)));
    this.node = h("li", { class: "tile hit", dataset: { window: window.id } }, this.button);
  }

  async load(api, signal) {
    if (!this.window.thumbnail_url) return this.#missing("No thumbnail");
    try {
      this.url = (await api.objectUrl(this.window.thumbnail_url, signal)).url;
      this.image.src = this.url;
    } catch (error) {
      if (error.name !== "AbortError") this.#missing("Thumbnail unavailable");
    }
  }

  stop() {
    if (this.url) URL.revokeObjectURL(this.url);
  }

  #missing(text) {
    this.screen.append(h("span", { class: "no-picture", text }));
  }
}
