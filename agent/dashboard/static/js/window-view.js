// One archived window in a dialog: its clip while the frames are still buffered, else its
// thumbnail large, with the caption and every rule's verdict. Escape or Close ends it and
// gives the focus back to the result that opened it.

import { showClip } from "./clip.js";
import { h, notice, replace } from "./dom.js";
import { dateTime, percent } from "./format.js";

const STILL = "Its frames are no longer in the buffer: this is the window's thumbnail.";

function facts(window, cameraName) {
  const rows = [
    ["Camera", cameraName === window.camera ? cameraName : `${cameraName} (${window.camera})`],
    ["Window", `${dateTime(window.start)}, ${(window.end - window.start).toFixed(1)} s`],
    ["Caption", window.caption || "—"],
    window.unchanged_since ? ["Unchanged since", window.unchanged_since] : null,
    ["Window id", window.id],
  ].filter(Boolean);
  return h("dl", { class: "facts" }, rows.map(([name, value]) => [h("dt", { text: name }), h("dd", { text: value })]));
}

function verdictTable(verdicts) {
  if (!verdicts.length) return h("p", { class: "muted", text: "No rule was asked about this window." });
  const head = ["Rule", "Detected", "Confidence", "What the model said"];
  return h("div", { class: "table-wrap" }, h("table", { class: "verdicts" },
    h("thead", {}, h("tr", {}, head.map((name) => h("th", { scope: "col", text: name })))),
    h("tbody", {}, verdicts.map((v) => h("tr", { class: v.detected ? "detected" : null },
      h("td", { text: v.rule }), h("td", { text: v.detected ? "yes" : "no" }),
      h("td", { text: percent(v.confidence) }), h("td", { text: v.description }))))));
}

export class WindowView {
  #opener = null;
  #controller = new AbortController();
  #ownUrls = [];

  constructor(api) {
    this.api = api;
    this.title = h("h2", { id: "window-view-title" });
    this.media = h("div", { class: "evidence window-media", "aria-live": "polite" });
    this.details = h("div", { class: "window-details" });
    const close = h("button", { type: "button", class: "quiet", text: "Close", onclick: () => this.node.close() });
    this.node = h("dialog", {
      class: "window-view", "aria-labelledby": "window-view-title",
      onclose: () => this.#closed(),
      onclick: (event) => event.target === this.node && this.node.close(), // the backdrop
    }, h("div", { class: "sheet" }, h("header", {}, this.title, close), this.media, this.details));
  }

  /** Shows the tile's window; closing gives the focus back to `opener`. */
  open(hit, opener = hit.button) {
    const { window, cameraName } = hit;
    this.#opener = opener;
    this.title.textContent = `${cameraName} at ${dateTime(window.start)}`;
    replace(this.details, facts(window, cameraName), verdictTable(window.verdicts));
    replace(this.media, notice("info", window.clip_url ? "Loading the clip…" : "Loading the thumbnail…"));
    this.node.showModal();
    this.#showMedia(hit, this.#controller.signal);
  }

  stop() {
    if (this.node.open) this.node.close();
    this.#closed();
  }

  async #showMedia(hit, signal) {
    const { clip_url: clipUrl } = hit.window;
    let why = STILL;
    if (clipUrl) {
      try {
        const clip = await this.#fetch(clipUrl, signal);
        return showClip(this.media, clip, "Clip of the window with burned timestamps");
      } catch (error) {
        if (error.name === "AbortError") return;
        why = `The clip could not be cut (${error.message}): this is the window's thumbnail.`;
      }
    }
    await this.#showThumbnail(hit, why, signal);
  }

  async #showThumbnail(hit, why, signal) {
    const { window, cameraName } = hit;
    if (!window.thumbnail_url) return replace(this.media, notice("empty", "No thumbnail", "The archive kept none."));
    try {
      const url = hit.url || (await this.#fetch(window.thumbnail_url, signal));
      replace(this.media, h("img", { class: "large", src: url, alt: `${cameraName} at ${dateTime(window.start)}` }),
        h("p", { class: "muted", text: why }));
    } catch (error) {
      if (error.name !== "AbortError") replace(this.media, notice("error", "Thumbnail unavailable", error.message));
    }
  }

  async #fetch(path, signal) {
    const { url } = await this.api.objectUrl(path, signal);
    this.#ownUrls.push(url);
    if (signal.aborted) throw new DOMException("closed", "AbortError");
    return url;
  }

  #closed() {
    this.#controller.abort();
    this.#controller = new AbortController();
    this.media.querySelector("video")?.pause();
    replace(this.media);
    for (const url of this.#ownUrls) URL.revokeObjectURL(url);
    this.#ownUrls = [];
    this.#opener?.focus();
    this.#opener = null;
  }
}
