// "How rules do" on the rules page: per rule and camera over a chosen period (the last 7
// days to start with), the alerts opened and what operators said of them (confirmed,
// dismissed as false alarms, events the rule missed), with the precision and recall
// those give; "—" where nobody has judged enough to say.

import { query } from "./api.js";
import { field, h, notice, replace } from "./dom.js";
import { percent } from "./format.js";
import { CUSTOM, PRESETS, TimeRange } from "./time-range.js";

const COLUMNS = [
  ["rule", "Rule"], ["camera", "Camera"], ["alerts", "Alerts"], ["confirmed", "Confirmed"],
  ["false_alarms", "Dismissed"], ["missed", "Missed"], ["precision", "Precision"], ["recall", "Recall"],
];
const NUMBERS = new Set(["alerts", "confirmed", "false_alarms", "missed", "precision", "recall"]);
const RATES = new Set(["precision", "recall"]);

function cell(row, name) {
  const text = RATES.has(name) ? percent(row[name]) : String(row[name]);
  return h("td", { class: NUMBERS.has(name) ? "number" : null, dataset: { column: name }, text });
}

function statsTable(rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "rule-stats-table" },
    h("thead", {}, h("tr", {}, COLUMNS.map(([name, label]) =>
      h("th", { scope: "col", class: NUMBERS.has(name) ? "number" : null, text: label })))),
    h("tbody", {}, rows.map((row) => h("tr", { dataset: { rule: row.rule, camera: row.camera } },
      COLUMNS.map(([name]) => cell(row, name)))))));
}

export class RuleStatsSection {
  #controller = null;

  constructor(api) {
    this.api = api;
    this.period = new TimeRange([...PRESETS, CUSTOM], { range: "7d" }, () => this.refresh());
    for (const input of [this.period.from, this.period.to]) input.addEventListener("change", () => this.refresh());
    this.result = h("div", { class: "rule-stats-result", "aria-live": "polite" });
    this.node = h("section", { class: "panel rule-stats", "aria-labelledby": "rule-stats-title" },
      h("h2", { id: "rule-stats-title", text: "How rules do" }),
      h("p", { class: "muted", text: "Precision: of the alerts judged, the share confirmed. "
        + "Recall: of the events known (confirmed or missed), the share alerted." }),
      h("div", { class: "period" }, field("Period", this.period.range), this.period.custom),
      this.result);
  }

  async refresh() {
    const bounds = this.period.bounds();
    if (bounds.invalid) return replace(this.result, notice("error", "Check the period", bounds.invalid));
    this.#controller?.abort();
    this.#controller = new AbortController();
    const params = { since: bounds.since, until: bounds.until ?? Math.ceil(Date.now() / 1000) };
    try {
      const stats = await this.api.get(`/v1/feedback/stats${query(params)}`, this.#controller.signal);
      this.#show(stats);
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(this.result, notice("error", "Feedback counts unavailable", error.message));
    }
  }

  stop() {
    this.#controller?.abort();
  }

  #show(stats) {
    const truncated = stats.truncated ? notice("warning", "Counted in part",
      `Only the latest ${stats.alerts_looked_at} alerts of the period were counted; choose a shorter period.`) : null;
    replace(this.result, truncated, stats.rows.length ? statsTable(stats.rows)
      : notice("empty", "Nothing to count", "No alerts or missed events in this period."));
  }
}
