// The zone editor's list: each zone and mask with its name, its number of points and
// buttons to edit its points or delete it. Rows are kept in step with the draft one by one,
// so a name being typed keeps its field.

import { field, h } from "./dom.js";

const NAME = "[a-z0-9][a-z0-9_\\-]{0,31}";
const DRAWING = "drawing: click the picture to add points, Enter finishes, Escape cancels";

export class ZoneList {
  #rows = new Map(); // shape key -> its row's elements

  constructor(draft) {
    this.draft = draft;
    this.list = h("ol", { class: "zone-list", "aria-label": "Zones and masks" });
    this.empty = h("p", { class: "muted",
      text: "No zones or masks yet. Add one, then click its corners on the picture." });
    this.node = h("div", {}, this.empty, this.list);
    draft.onChange(() => this.render());
    this.render();
  }

  render() {
    const keys = new Set(this.draft.shapes.map((shape) => shape.key));
    for (const [key, row] of this.#rows) {
      if (keys.has(key)) continue;
      row.node.remove();
      this.#rows.delete(key);
    }
    for (const shape of this.draft.shapes) this.#update(this.#rows.get(shape.key) || this.#add(shape), shape);
    this.empty.hidden = this.draft.shapes.length > 0;
  }

  #add(shape) {
    const title = shape.kind === "mask" ? "Mask name" : "Zone name";
    const name = h("input", { value: shape.name, required: true, pattern: NAME, maxlength: "32",
      spellcheck: "false", autocomplete: "off", oninput: () => this.draft.rename(shape.key, name.value) });
    const row = {
      count: h("span", { class: "muted points-count" }),
      edit: h("button", { type: "button", class: "quiet", text: "Edit points",
        onclick: () => this.draft.select(shape.key) }),
      remove: h("button", { type: "button", class: "quiet", text: "Delete",
        onclick: () => this.draft.remove(shape.key) }),
    };
    row.node = h("li", { class: `zone-row ${shape.kind}`, dataset: { key: shape.key, kind: shape.kind } },
      h("span", { class: `badge kind-${shape.kind}`, text: shape.kind }),
      field(title, name, "Lower-case letters, digits, - and _"), row.count,
      h("div", { class: "actions" }, row.edit, row.remove));
    this.list.append(row.node);
    this.#rows.set(shape.key, row);
    return row;
  }

  #update(row, shape) {
    const drawing = shape.key === this.draft.drawing;
    const count = `${shape.points.length} point${shape.points.length === 1 ? "" : "s"}`;
    const text = drawing ? `${count}, ${DRAWING}` : count;
    if (row.count.textContent !== text) row.count.textContent = text;
    row.node.classList.toggle("selected", shape.key === this.draft.selected);
    row.edit.disabled = this.draft.drawing !== null;
    row.edit.setAttribute("aria-pressed", String(shape.key === this.draft.selected && !drawing));
    row.remove.setAttribute("aria-label", `Delete ${shape.kind} ${shape.name}`);
  }
}
