// Zones and masks drawn on a PictureLayer: each polygon's outline with its name (an
// alert's zones also with the letter and colour the model was shown), masks hatched grey.

import { replace, svg } from "./dom.js";

export const ZONE_COLOUR = "#ffd166";
export const MASK_COLOUR = "#b0b8c0";
const HEX = /^#[0-9a-f]{6}$/i;

/** A camera's zones and masks as shapes to draw (absent lists are empty). */
export function cameraShapes(camera) {
  return [
    ...(camera.zones || []).map((zone) => ({ ...zone, kind: "zone" })),
    ...(camera.masks || []).map((mask) => ({ ...mask, kind: "mask" })),
  ];
}

/** The diagonal hatching masks are filled with; its id is the layer's. */
export function hatching(layer) {
  const size = layer.px(7);
  return svg("defs", {},
    svg("pattern", { id: `${layer.id}-hatch`, patternUnits: "userSpaceOnUse", width: size, height: size,
      patternTransform: "rotate(45)" },
    svg("rect", { width: size / 2, height: size, fill: MASK_COLOUR, "fill-opacity": "0.35" })));
}

function labelAt(layer, points) {
  const [x, y] = layer.place(points.reduce((top, point) => (point[1] < top[1] ? point : top)));
  const below = y < layer.px(16);
  return [x, below ? y + layer.px(16) : y - layer.px(5)];
}

/** One shape's group: polygon and name, `data-zone` and `data-kind` on it. */
export function outline(layer, shape, className = "") {
  const mask = shape.kind === "mask";
  const colour = HEX.test(shape.hex || "") ? shape.hex : mask ? MASK_COLOUR : ZONE_COLOUR;
  const [x, y] = labelAt(layer, shape.points);
  const text = shape.label ? `${shape.label} · ${shape.name}` : shape.name;
  return svg("g", { class: `outline ${shape.kind} ${className}`.trim(),
    dataset: { zone: shape.name, kind: shape.kind } },
  svg("polygon", { points: layer.points(shape.points), stroke: colour,
    fill: mask ? `url(#${layer.id}-hatch)` : "none" }),
  text ? svg("text", { x, y, fill: colour, "font-size": layer.px(12), text,
    "text-anchor": x > layer.width * 0.7 ? "end" : "start" }) : null);
}

/** Draws the shapes on the layer, replacing what it showed; nothing until it has a size. */
export function drawOutlines(layer, shapes) {
  if (!layer.ready) return replace(layer.node);
  return replace(layer.node, hatching(layer), shapes.map((shape) => outline(layer, shape)));
}
