// Text that cites windows by tag ("… at the gate [w3].") with each [wN] a button for the
// window it names; a tag with no window shown stays text. Ask's history answers and
// reports share it.

import { h } from "./dom.js";
import { dateTime } from "./format.js";

const CITATION = /\[(w\d{1,4})\]/;

/** A button for `tile` (a WindowTile) named by `tag`; pressing it calls onCite(tile, button). */
export function citation(tag, tile, onCite) {
  return h("button", { type: "button", class: "citation", text: `[${tag}]`,
    "aria-label": `Window ${tag}: ${tile.cameraName}, ${dateTime(tile.window.start)}`,
    onclick: (event) => onCite(tile, event.currentTarget) });
}

/** `text` as a paragraph; `tiles` maps tags to WindowTiles. */
export function citedText(text, tiles, onCite, className) {
  const parts = text.split(CITATION).map((part, index) => {
    if (index % 2 === 0) return part;
    const tile = tiles.get(part);
    return tile ? citation(part, tile, onCite) : `[${part}]`;
  });
  return h("p", { class: className }, parts);
}
