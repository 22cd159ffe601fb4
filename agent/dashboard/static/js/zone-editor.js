// The zone editor of one camera: a toolbar (add a zone or a mask, finish or cancel the
// polygon, reload the picture, save), the picture and the list, over one draft. Save
// replaces the camera's zones and masks (PUT); a refusal keeps the draft and shows the
// server's reason, with the shape it names selected.

import { failureNotice, h, notice, replace } from "./dom.js";
import { ZoneCanvas } from "./zone-canvas.js";
import { ZoneDraft } from "./zone-draft.js";
import { ZoneList } from "./zone-list.js";

const HINT = "Add a zone or a mask, then click its corners on the picture; click the first point or "
  + "press Enter to finish, Escape to cancel. Drag a point (or focus it and use the arrow keys) to "
  + "move it; Delete removes it. Masks are hatched: motion there never counts.";
const SHAPE_PATH = /\b(zones|masks)\.(\d+)(?:\.points\b)?/g;

const button = (text, onclick, quiet = true) =>
  h("button", { type: "button", class: quiet ? "quiet" : null, text, onclick });

export class ZoneEditor {
  constructor(api, camera, zones) {
    this.api = api;
    this.camera = camera;
    this.draft = new ZoneDraft(zones);
    this.message = h("div", { class: "message", "aria-live": "polite" });
    const hint = h("p", { class: "hint", id: `zone-hint-${camera.id}`, text: HINT });
    this.canvas = new ZoneCanvas(this.draft, { label: `Latest frame of ${camera.name || camera.id}`,
      hintId: hint.id, say: (text) => replace(this.message, notice("warning", "Not yet", text)) });
    this.list = new ZoneList(this.draft);
    this.buttons = {
      zone: button("Add zone", () => this.#add("zone")), mask: button("Add mask", () => this.#add("mask")),
      finish: button("Finish polygon", () => this.canvas.finish()),
      cancel: button("Cancel polygon", () => this.draft.cancel()),
      reload: button("Reload picture", () => this.loadPicture()),
      save: button("Save zones", () => this.save(), false),
    };
    this.state = h("span", { class: "muted draft-state", "aria-live": "polite" });
    this.node = h("div", { class: "zone-editor" },
      h("div", { class: "actions toolbar" }, Object.values(this.buttons), this.state), this.message,
      h("div", { class: "editor-body" }, h("div", { class: "editor-main" }, this.canvas.node, hint),
        h("aside", { class: "panel" }, h("h2", { text: "Zones and masks" }), this.list.node)));
    this.draft.onChange(() => this.#sync());
    this.#sync();
  }

  async loadPicture() {
    try {
      this.canvas.show((await this.api.objectUrl(`/v1/cameras/${this.camera.id}/latest.jpg`)).url);
    } catch (error) {
      const missing = error.status === 404;
      replace(this.message, notice(missing ? "empty" : "error", "No picture to draw on",
        missing ? "The camera has no frame in the buffer yet; reload the picture once it streams." : error.message));
    }
  }

  async save() {
    if (this.draft.drawing !== null && !this.canvas.finish()) return;
    const body = this.draft.body();
    this.buttons.save.disabled = true;
    try {
      const stored = await this.api.send("PUT", `/v1/cameras/${this.camera.id}/zones`, body);
      this.draft.saved();
      replace(this.message, notice("info", "Zones saved",
        `${stored.zones.length} zone(s) and ${stored.masks.length} mask(s) on ${this.camera.name || this.camera.id}.`));
    } catch (error) {
      replace(this.message, failureNotice({ status: error.status, message: this.#named(error.message, body) },
        "Zones not saved"));
    } finally {
      this.buttons.save.disabled = false;
    }
  }

  stop() {
    this.canvas.stop();
  }

  #add(kind) {
    this.draft.add(kind);
    replace(this.message);
    this.canvas.node.focus({ preventScroll: true });
  }

  // "zones.1.points: …" becomes 'zone "bowtie": …', and that zone is selected.
  #named(message, body) {
    return message.replace(SHAPE_PATH, (whole, list, index) => {
      const kind = list === "zones" ? "zone" : "mask";
      const shape = this.draft.shapes.filter((item) => item.kind === kind)[Number(index)];
      if (!shape || !body[list][Number(index)]) return whole;
      this.draft.select(shape.key);
      return `${kind} "${body[list][Number(index)].name}"`;
    });
  }

  #sync() {
    const drawing = this.draft.drawing !== null;
    this.buttons.finish.hidden = this.buttons.cancel.hidden = !drawing;
    this.state.textContent = this.draft.dirty ? "Unsaved changes" : "";
  }
}
