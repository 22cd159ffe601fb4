// Alert timeline: filtered pages newest first, with new and changed alerts arriving live.

import { query } from "../api.js";
import { field, h, notice, options, pageHeading, replace } from "../dom.js";
import { dateTime, percent } from "../format.js";

const FILTERS = ["camera", "rule", "severity", "state"];
const VERDICTS = { confirmed: "confirmed", false_alarm: "false alarm" };

function accepts(filter, alert) {
  return FILTERS.every((name) => !filter[name] || alert[name] === filter[name]);
}

export function alertItem(alert, fresh = false) {
  const ack = alert.acknowledged ? h("span", { class: "badge ack", text: "acknowledged" }) : null;
  const verdict = alert.feedback ? h("span", { class: `badge verdict-${alert.feedback.verdict}`,
    text: VERDICTS[alert.feedback.verdict] || alert.feedback.verdict }) : null;
  return h(
    "li",
    { class: `alert-item sev-${alert.severity}${fresh ? " fresh" : ""}`, dataset: { alert: alert.id } },
    h(
      "a",
      { href: `#/alerts/${alert.id}` },
      h("span", { class: "when", text: dateTime(alert.opened_at) }),
      h("span", { class: "what" },
        h("strong", { text: alert.rule }), ` on ${alert.camera}: `,
        alert.summary_placed || alert.summary || alert.description),
      h("span", { class: "tags" },
        h("span", { class: `badge sev-${alert.severity}`, text: alert.severity }),
        h("span", { class: `badge state-${alert.state}`, text: alert.state }),
        h("span", { class: "muted", text: percent(alert.confidence) }),
        ack, verdict),
    ),
  );
}

function filterForm(current, onChange) {
  const selects = Object.fromEntries(FILTERS.map((name) => [name, h("select", { name })]));
  options(selects.severity, ["info", "warning", "critical"], current.severity, "any severity");
  options(selects.state, ["open", "closed"], current.state, "open or closed");
  options(selects.camera, [], current.camera, "every camera");
  options(selects.rule, [], current.rule, "every rule");
  const form = h(
    "form",
    { class: "filters", onchange: () => onChange(Object.fromEntries(FILTERS.map((n) => [n, selects[n].value]))),
      onsubmit: (event) => event.preventDefault() },
    field("Camera", selects.camera), field("Rule", selects.rule),
    field("Severity", selects.severity), field("State", selects.state),
  );
  return { form, selects };
}

async function fillChoices(api, selects, current) {
  const [cameras, rules] = await Promise.all([api.get("/v1/cameras"), api.get("/v1/rules")]);
  options(selects.camera, cameras.map((c) => [c.id, c.name || c.id]), current.camera, "every camera");
  options(selects.rule, rules.map((r) => r.id), current.rule, "every rule");
}

export function mount(root, { api, feed, go }, route) {
  const filter = Object.fromEntries(FILTERS.map((name) => [name, route.query.get(name) || ""]));
  const list = h("ol", { class: "timeline", "aria-label": "Alerts, newest first" });
  const status = h("p", { class: "muted live-count", "aria-live": "polite" });
  const message = h("div", { class: "message" });
  const more = h("button", { type: "button", class: "quiet", text: "Load older alerts", hidden: true });
  const { form, selects } = filterForm(filter, (next) => go(`#/alerts${query(next)}`));
  replace(root, pageHeading("Alerts", status), form, message, list, more);
  let cursor = null;
  let fresh = 0;

  const showEmpty = () => {
    const filtered = FILTERS.some((name) => filter[name]);
    replace(message, list.children.length ? null
      : notice("empty", filtered ? "No alerts match these filters" : "No alerts yet",
        "New alerts appear here as they happen."));
  };

  async function loadPage() {
    try {
      const page = await api.get(`/v1/alerts${query({ ...filter, limit: 50, cursor })}`);
      list.append(...page.items.map((alert) => alertItem(alert)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      showEmpty();
    } catch (error) {
      replace(message, notice("error", "Alerts unavailable", error.message));
    }
  }

  async function onEvent(event) {
    const id = event.payload.alert_id;
    if (!id) return;
    const alert = await api.get(`/v1/alerts/${id}`).catch(() => null);
    const existing = list.querySelector(`[data-alert="${CSS.escape(id)}"]`);
    if (!alert || !accepts(filter, alert)) return existing?.remove();
    if (existing) return existing.replaceWith(alertItem(alert, existing.classList.contains("fresh")));
    if (event.type === "alert.feedback") return; // feedback on an alert not listed: not a new one
    list.prepend(alertItem(alert, true));
    fresh += 1;
    status.textContent = `${fresh} new since you opened this page`;
    showEmpty();
  }

  more.addEventListener("click", loadPage);
  fillChoices(api, selects, filter).catch(() => {});
  loadPage();
  return feed.subscribe(onEvent);
}
