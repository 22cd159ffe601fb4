// Search: what the cameras saw, from the archive. Every analysed window's caption is ranked
// by words and by meaning, filtered first by camera, detected rule and time; a result opens
// its window (the clip while its frames are buffered, else the thumbnail). The search is
// kept in the address (#/search?q=…), so it survives a reload and can be shared.

import { query } from "../api.js";
import { field, h, notice, options, pageHeading, replace } from "../dom.js";
import { CUSTOM, PRESETS, TimeRange } from "../time-range.js";
import { WindowTile } from "../window-tile.js";
import { WindowView } from "../window-view.js";
import { alertItem } from "./alerts.js";

const LIMIT = 24;
const PARAMS = ["q", "camera", "rule", "range", "from", "to"];
const RANGES = [["", "Any time"], ...PRESETS, CUSTOM];

function failure(error) {
  if (error.status === 503) {
    return ["warning", "The archive isn't configured",
      "Search reads the archive of analysed windows, and this Vigil API has none. "
      + "Configure the archive section of vigil.yaml and run the archiver (vigil up runs one)."];
  }
  if (error.status === 422) return ["error", "Check the search", error.message];
  return ["error", "Search failed", error.message];
}

class SearchForm {
  constructor(current, onSearch) {
    const i = {
      q: h("input", { type: "search", name: "q", required: true, maxlength: "500", autocomplete: "off",
        placeholder: "a person on a bicycle", value: current.q }),
      camera: h("select", { name: "camera" }),
      rule: h("select", { name: "rule" }),
    };
    this.inputs = i;
    this.period = new TimeRange(RANGES, current);
    // Until the lists arrive, the choice in the address is the only one.
    options(i.camera, current.camera ? [current.camera] : [], current.camera, "Every camera");
    options(i.rule, current.rule ? [current.rule] : [], current.rule, "Any or none");
    this.node = h("form", { class: "panel search-form", role: "search",
      onsubmit: (event) => { event.preventDefault(); onSearch(this.value()); } },
    h("div", { class: "search-bar" }, field("Look for", i.q), h("button", { type: "submit", text: "Search" })),
    h("div", { class: "filters" }, field("Camera", i.camera), field("Detected rule", i.rule),
      field("Time", this.period.range), this.period.custom));
  }

  async fillChoices(api) {
    const [cameras, rules] = await Promise.all([api.get("/v1/cameras"), api.get("/v1/rules")]);
    const { camera, rule } = this.inputs;
    options(camera, cameras.map((c) => [c.id, c.name || c.id]), camera.value, "Every camera");
    options(rule, rules.map((r) => r.id), rule.value, "Any or none");
    return new Map(cameras.map((c) => [c.id, c.name || c.id]));
  }

  value() {
    const { q, camera, rule } = this.inputs;
    return { q: q.value, camera: camera.value, rule: rule.value, ...this.period.value() };
  }
}

function alertsFound(alerts) {
  if (!alerts.length) return null;
  return h("section", { class: "search-alerts" }, h("h2", { text: `Alerts (${alerts.length})` }),
    h("ol", { class: "timeline", "aria-label": "Matching alerts" }, alerts.map((alert) => alertItem(alert))));
}

function counted(windows, alerts) {
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return [plural(windows, "window"), alerts ? plural(alerts, "alert") : null].filter(Boolean).join(", ");
}

export function mount(root, { api }, route) {
  const current = Object.fromEntries(PARAMS.map((name) => [name, route.query.get(name) || ""]));
  const form = new SearchForm(current, search);
  const count = h("p", { class: "muted search-count", "aria-live": "polite" });
  const message = h("div", { class: "message", "aria-live": "polite" });
  const results = h("div", { class: "results" });
  const view = new WindowView(api);
  replace(root, pageHeading("Search", count), form.node, message, results, view.node);
  let cameraNames = new Map();
  let hits = [];
  let controller = new AbortController();
  let stopped = false;

  function clear() {
    controller.abort();
    controller = new AbortController();
    for (const hit of hits) hit.stop();
    hits = [];
    replace(results);
    count.textContent = "";
  }

  function show(found, signal) {
    const alerts = Array.isArray(found.alerts) ? found.alerts : [];
    count.textContent = counted(found.windows.length, alerts.length);
    if (!found.windows.length && !alerts.length) {
      return replace(message, notice("empty", "Nothing matches",
        "Try other words, every camera, any rule or a wider time range."));
    }
    replace(message);
    hits = found.windows.map((w) => new WindowTile(w, cameraNames.get(w.camera) || w.camera, (hit) => view.open(hit)));
    const grid = hits.length ? h("ul", { class: "grid hits", "aria-label": "Matching windows, best first" },
      hits.map((hit) => hit.node)) : null;
    replace(results, alertsFound(alerts), grid);
    for (const hit of hits) hit.load(api, signal);
  }

  async function search(params) {
    clear();
    history.replaceState(null, "", `#/search${query(params)}`);
    const { since, until, invalid } = form.period.bounds();
    if (invalid) return replace(message, notice("error", "Check the time range", invalid));
    const { signal } = controller;
    replace(message, notice("info", "Searching…", "Ranking the archive's windows by words and by meaning."));
    results.setAttribute("aria-busy", "true");
    try {
      const path = `/v1/search${query({ q: params.q, camera: params.camera, rule: params.rule, since, until,
        limit: LIMIT })}`;
      const found = await api.get(path, signal);
      if (!signal.aborted) show(found, signal);
    } catch (error) {
      if (error.name !== "AbortError") replace(message, notice(...failure(error)));
    } finally {
      if (!signal.aborted) results.removeAttribute("aria-busy");
    }
  }

  const ready = form.fillChoices(api).then((names) => { cameraNames = names; }, () => {});
  if (current.q) ready.then(() => stopped || search(form.value()));
  else {
    replace(message, notice("info", "Search what the cameras saw",
      "Describe a scene in your own words: each analysed window's caption is ranked by words and by meaning."));
  }
  return () => {
    stopped = true;
    clear();
    view.stop();
  };
}
