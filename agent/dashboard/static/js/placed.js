// The model's free text with each clip time followed by its wall-clock time
// ("3.00s (14:02:07 UTC)", placed by the API), and the model's own words a click away.

import { h } from "./dom.js";

export function placedText(placed, raw, className) {
  const shown = h("p", { class: className, text: placed || raw });
  if (!placed || placed === raw) return [shown];
  return [shown, h("details", { class: "model-text" },
    h("summary", { text: "The model's text (times in seconds of the clip)" }),
    h("p", { class: "raw", text: raw }))];
}
