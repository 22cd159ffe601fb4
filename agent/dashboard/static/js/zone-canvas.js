// The zone editor's picture: the latest frame with the draft's polygons over it. While a
// polygon is drawn, a click on the picture adds a point, a click on its first point or Enter
// finishes it, Escape drops it. The selected polygon's points are handles to drag, or to
// move with the arrow keys (Shift: ten times further); Delete removes one.

import { h, replace, svg } from "./dom.js";
import { hatching, outline } from "./outlines.js";
import { PictureLayer } from "./picture-layer.js";
import { POINTS_MIN } from "./zone-draft.js";

const STEP = 0.002; // of the picture, per arrow key
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
const inside = ([x, y]) => x >= 0 && x <= 1 && y >= 0 && y <= 1;

export class ZoneCanvas {
  #drag = null; // { key, index } of the point being dragged
  #hover = null; // where the pointer is on the picture while a polygon is drawn
  #url = null;

  /** `say(text)` tells the operator why a key or click did nothing. */
  constructor(draft, { label, hintId, say }) {
    this.draft = draft;
    this.say = say;
    this.layer = new PictureLayer("editor-layer", { hidden: false });
    this.band = svg("line", { class: "rubber-band" }); // from the last point to the pointer
    this.image = h("img", { class: "editor-frame", alt: label });
    this.node = h("div", { class: "editor-picture", tabindex: "0", role: "group", "aria-label": label,
      "aria-describedby": hintId }, this.image, this.layer.node);
    this.image.addEventListener("load", () => this.layer.fit(this.image.naturalWidth, this.image.naturalHeight));
    this.layer.onChange(() => this.render());
    draft.onChange(() => this.render());
    const on = (name, listener) => this.layer.node.addEventListener(name, listener);
    on("pointerdown", (event) => this.#down(event));
    on("pointermove", (event) => this.#move(event));
    on("pointerup", () => (this.#drag = null));
    on("pointercancel", () => (this.#drag = null));
    on("pointerleave", () => this.#hoverAt(null));
    this.node.addEventListener("keydown", (event) => this.#key(event));
  }

  /** Shows a frame (a blob: URL this canvas now owns). */
  show(url) {
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#url = url;
    this.image.src = url;
  }

  /** Ends the polygon being drawn, or says why it cannot end yet. */
  finish() {
    const shape = this.draft.find(this.draft.drawing);
    if (this.draft.finish()) return true;
    this.say(`A ${shape.kind} needs at least ${POINTS_MIN} points; this one has ${shape.points.length}.`);
    return false;
  }

  stop() {
    this.layer.stop();
    if (this.#url) URL.revokeObjectURL(this.#url);
  }

  render() {
    if (!this.layer.ready) return;
    const active = document.activeElement;
    const focused = this.node.contains(active) && active.classList.contains("handle") ? active.dataset : null;
    replace(this.layer.node, hatching(this.layer), this.draft.shapes.map((shape) => this.#shape(shape)),
      this.band, this.#handles());
    this.#stretchBand();
    if (focused) this.#handle(focused.key, focused.index)?.focus({ preventScroll: true });
  }

  #shape(shape) {
    if (shape.key === this.draft.drawing) {
      return svg("polyline", { class: `drawing ${shape.kind}`, points: this.layer.points(shape.points) });
    }
    const group = outline(this.layer, shape, shape.key === this.draft.selected ? "selected" : "");
    group.dataset.key = shape.key;
    return group;
  }

  #stretchBand() {
    const shape = this.draft.find(this.draft.drawing);
    const shown = Boolean(shape?.points.length && this.#hover);
    this.band.setAttribute("visibility", shown ? "visible" : "hidden");
    if (!shown) return;
    const ends = [shape.points.at(-1), this.#hover].map((point) => this.layer.place(point));
    for (const [name, value] of Object.entries({ x1: ends[0][0], y1: ends[0][1], x2: ends[1][0], y2: ends[1][1] })) {
      this.band.setAttribute(name, value);
    }
  }

  #handles() {
    const shape = this.draft.find(this.draft.drawing ?? this.draft.selected);
    if (!shape) return null;
    const closes = shape.key === this.draft.drawing && shape.points.length >= POINTS_MIN;
    return shape.points.map((point, index) => {
      const [cx, cy] = this.layer.place(point);
      const first = index === 0 && closes;
      return svg("circle", { class: first ? "handle first" : "handle", cx, cy, r: this.layer.px(first ? 8 : 6),
        tabindex: "0", role: "button", "aria-roledescription": "point",
        "aria-label": `Point ${index + 1} of ${shape.name}${first ? " (click to finish)" : ""}`,
        dataset: { key: shape.key, index } });
    });
  }

  #handle(key, index) {
    return this.layer.node.querySelector(`.handle[data-key="${key}"][data-index="${index}"]`);
  }

  #down(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    const handle = event.target.closest(".handle");
    (handle || this.node).focus({ preventScroll: true });
    const point = this.layer.relative(event.clientX, event.clientY);
    if (handle) this.#grab(event, Number(handle.dataset.key), Number(handle.dataset.index));
    else if (this.draft.drawing !== null) {
      if (point && inside(point)) this.draft.addPoint(point);
    } else {
      const picked = event.target.closest(".outline");
      this.draft.select(picked ? Number(picked.dataset.key) : null);
    }
  }

  #grab(event, key, index) {
    const closing = key === this.draft.drawing && index === 0;
    if (closing && this.draft.find(key).points.length >= POINTS_MIN) {
      this.finish();
      return;
    }
    this.#drag = { key, index };
    this.layer.node.setPointerCapture(event.pointerId);
  }

  #move(event) {
    const point = this.layer.relative(event.clientX, event.clientY);
    if (!point) return;
    if (this.#drag) this.draft.movePoint(this.#drag.key, this.#drag.index, point);
    else if (this.draft.drawing !== null) this.#hoverAt(inside(point) ? point : null);
  }

  #hoverAt(point) {
    this.#hover = point;
    this.#stretchBand();
  }

  #key(event) {
    const drawing = this.draft.drawing !== null;
    const handle = event.target.closest?.(".handle");
    if (event.key === "Enter" && drawing) this.finish();
    else if (event.key === "Escape" && drawing) {
      this.draft.cancel();
      this.node.focus({ preventScroll: true });
    } else if (handle && ARROWS[event.key]) this.#nudge(handle.dataset, ARROWS[event.key], event.shiftKey);
    else if (handle && (event.key === "Delete" || event.key === "Backspace")) this.#removePoint(handle.dataset);
    else return;
    event.preventDefault();
  }

  #nudge({ key, index }, [dx, dy], far) {
    const [x, y] = this.draft.find(Number(key)).points[Number(index)];
    const step = far ? STEP * 10 : STEP;
    this.draft.movePoint(Number(key), Number(index), [x + dx * step, y + dy * step]);
  }

  #removePoint({ key, index }) {
    const shape = this.draft.find(Number(key));
    if (this.draft.removePoint(shape.key, Number(index))) {
      this.#handle(shape.key, Math.max(0, Number(index) - 1))?.focus({ preventScroll: true });
    } else this.say(`A ${shape.kind} keeps at least ${POINTS_MIN} points: delete the ${shape.kind} instead.`);
  }
}
