// A period to look at: presets counted back from now, or a custom UTC range whose two
// fields show only when it is chosen. Search and Ask share it.

import { field, h, options } from "./dom.js";
import { fromUtcInput, toUtcInput } from "./format.js";

const SPAN_S = { "1h": 3600, "24h": 86_400, "7d": 604_800 };
const DAY_S = 86_400;
export const PRESETS = [["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"]];
export const CUSTOM = ["custom", "Custom range"];

export class TimeRange {
  /** `choices` are [value, label] pairs; a value that is neither a preset nor custom has no bounds. */
  constructor(choices, current, onChange = () => {}) {
    this.range = h("select", { name: "range", onchange: () => { this.#showCustom(); onChange(); } });
    this.from = h("input", { type: "datetime-local", name: "from", value: current.from || "" });
    this.to = h("input", { type: "datetime-local", name: "to", value: current.to || "" });
    options(this.range, choices, current.range);
    this.custom = [field("From (UTC)", this.from), field("To (UTC)", this.to)];
    this.#showCustom();
  }

  /** The choice as address parameters: custom times only with a custom range. */
  value() {
    const custom = this.range.value === CUSTOM[0];
    return { range: this.range.value, from: custom ? this.from.value : "", to: custom ? this.to.value : "" };
  }

  /** The period in epoch seconds ({since, until}, either null when open), or {invalid: reason}. */
  bounds(nowS = Date.now() / 1000) {
    if (this.range.value === CUSTOM[0]) {
      const since = fromUtcInput(this.from.value);
      const until = fromUtcInput(this.to.value);
      if (since !== null && until !== null && since >= until) return { invalid: "The range ends before it starts." };
      return { since, until };
    }
    const span = SPAN_S[this.range.value];
    return { since: span ? Math.floor(nowS - span) : null, until: null };
  }

  #showCustom() {
    const custom = this.range.value === CUSTOM[0];
    for (const node of this.custom) node.hidden = !custom;
    if (custom && !this.from.value && !this.to.value) {
      const nowS = Date.now() / 1000;
      this.from.value = toUtcInput(nowS - DAY_S);
      this.to.value = toUtcInput(nowS + 60);
    }
  }
}
