// The zones and masks of one camera while they are edited: named shapes with points relative
// to the picture, the one being drawn and the one selected. No DOM: the editor's picture and
// list show it, and `body()` is what PUT /v1/cameras/{id}/zones takes.

export const POINTS_MAX = 32;
export const POINTS_MIN = 3;
const DECIMALS = 1e4; // a ten-thousandth of the picture: below a pixel

let keys = 0;
const clamp = (n) => Math.min(1, Math.max(0, n));
const relative = ([x, y]) => [clamp(x), clamp(y)];
const rounded = ([x, y]) => [Math.round(x * DECIMALS) / DECIMALS, Math.round(y * DECIMALS) / DECIMALS];

export class ZoneDraft {
  #listeners = [];
  #savedBody;

  constructor({ zones = [], masks = [] } = {}) {
    const shape = (kind) => (item) => ({ key: ++keys, kind, name: item.name, points: item.points.map(relative) });
    this.shapes = [...zones.map(shape("zone")), ...masks.map(shape("mask"))];
    this.drawing = null; // the key of the shape being drawn
    this.selected = null;
    this.#savedBody = JSON.stringify(this.body());
  }

  onChange(listener) {
    this.#listeners.push(listener);
  }

  find(key) {
    return this.shapes.find((shape) => shape.key === key) || null;
  }

  /** Starts drawing a new zone or mask (dropping one still being drawn); its key. */
  add(kind) {
    this.cancel();
    const shape = { key: ++keys, kind, name: this.#freeName(kind), points: [] };
    this.shapes.push(shape);
    this.drawing = this.selected = shape.key;
    this.#changed();
    return shape.key;
  }

  addPoint(point) {
    const shape = this.find(this.drawing);
    if (!shape || shape.points.length >= POINTS_MAX) return false;
    shape.points.push(relative(point));
    this.#changed();
    return true;
  }

  movePoint(key, index, point) {
    const shape = this.find(key);
    if (!shape || !shape.points[index]) return;
    shape.points[index] = relative(point);
    this.#changed();
  }

  removePoint(key, index) {
    const shape = this.find(key);
    const least = key === this.drawing ? 1 : POINTS_MIN + 1;
    if (!shape || shape.points.length < least) return false;
    shape.points.splice(index, 1);
    this.#changed();
    return true;
  }

  /** Ends the polygon being drawn; false while it has fewer than three points. */
  finish() {
    const shape = this.find(this.drawing);
    if (shape && shape.points.length < POINTS_MIN) return false;
    this.drawing = null;
    this.#changed();
    return true;
  }

  /** Drops the polygon being drawn. */
  cancel() {
    if (this.drawing === null) return;
    const key = this.drawing;
    this.drawing = null;
    this.remove(key);
  }

  select(key) {
    if (this.selected === key) return;
    this.selected = key;
    this.#changed();
  }

  remove(key) {
    this.shapes = this.shapes.filter((shape) => shape.key !== key);
    if (this.selected === key) this.selected = null;
    if (this.drawing === key) this.drawing = null;
    this.#changed();
  }

  rename(key, name) {
    const shape = this.find(key);
    if (!shape) return;
    shape.name = name.trim();
    this.#changed();
  }

  /** The finished zones and masks as the API takes them. */
  body() {
    const of = (kind) => this.shapes.filter((shape) => shape.kind === kind && shape.key !== this.drawing)
      .map((shape) => ({ name: shape.name, points: shape.points.map(rounded) }));
    return { zones: of("zone"), masks: of("mask") };
  }

  /** Whether the finished shapes differ from what was loaded or last saved. */
  get dirty() {
    return JSON.stringify(this.body()) !== this.#savedBody;
  }

  saved() {
    this.#savedBody = JSON.stringify(this.body());
    this.#changed();
  }

  #freeName(kind) {
    const taken = new Set(this.shapes.filter((shape) => shape.kind === kind).map((shape) => shape.name));
    let n = 1;
    while (taken.has(`${kind}-${n}`)) n += 1;
    return `${kind}-${n}`;
  }

  #changed() {
    for (const listener of this.#listeners) listener();
  }
}
