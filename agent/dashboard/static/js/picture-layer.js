// An SVG layer laid over a stored frame shown with `object-fit: contain` (an <img> or a
// <video> filling the same box): its user units are the frame's pixels, so a point relative
// to the picture (0..1 on each axis, the 28-px timestamp strip below it not counted) lands
// on the same spot at any displayed size, and a pointer's position maps back to one.

import { svg } from "./dom.js";

export const STRIP_PX = 28;
let layers = 0;

export class PictureLayer {
  #listeners = [];
  #observer;

  constructor(className, { hidden = true } = {}) {
    this.id = `layer-${++layers}`;
    this.width = 0; // of the picture, in frame pixels
    this.height = 0; // of the picture, the strip excluded
    this.scale = 0; // CSS pixels per frame pixel
    this.node = svg("svg", {
      class: `picture-layer ${className}`, preserveAspectRatio: "xMidYMid meet",
      "aria-hidden": hidden ? "true" : null,
    });
    this.#observer = new ResizeObserver(() => this.#measure());
    this.#observer.observe(this.node);
  }

  get ready() {
    return this.width > 0 && this.scale > 0;
  }

  /** The stored frame's size, strip included (an image's natural or a video's intrinsic size). */
  fit(frameWidth, frameHeight) {
    const height = frameHeight - STRIP_PX;
    if (frameWidth <= 0 || height <= 0 || (frameWidth === this.width && height === this.height)) return;
    [this.width, this.height] = [frameWidth, height];
    this.node.setAttribute("viewBox", `0 0 ${frameWidth} ${frameHeight}`);
    this.scale = 0;
    this.#measure();
  }

  /** Frame pixels of a relative point. */
  place([x, y]) {
    return [x * this.width, y * this.height];
  }

  /** A polygon's `points` attribute for relative points. */
  points(points) {
    return points.map((point) => this.place(point).map((n) => n.toFixed(1)).join(",")).join(" ");
  }

  /** The relative point under a client position; outside 0..1 when off the picture. */
  relative(clientX, clientY) {
    const matrix = this.node.getScreenCTM();
    if (!matrix || !this.ready) return null;
    const at = new DOMPoint(clientX, clientY).matrixTransform(matrix.inverse());
    return [at.x / this.width, at.y / this.height];
  }

  /** Frame pixels that show as `cssPx` pixels now (for text and handle sizes). */
  px(cssPx) {
    return cssPx / (this.scale || 1);
  }

  /** Calls `listener` whenever what is drawn must be drawn again (new size or scale). */
  onChange(listener) {
    this.#listeners.push(listener);
  }

  stop() {
    this.#observer.disconnect();
  }

  #measure() {
    if (!this.width) return;
    const box = this.node.getBoundingClientRect();
    const scale = Math.min(box.width / this.width, box.height / (this.height + STRIP_PX));
    if (!(scale > 0) || Math.abs(scale - this.scale) < 1e-4) return;
    this.scale = scale;
    for (const listener of this.#listeners) listener();
  }
}
