// Webhooks: subscriptions (create, edit, enable and disable), delivery status, test
// deliveries and redelivery of dead letters. Needs an admin key.

import { failureNotice, field, h, notice, pageHeading, replace } from "../dom.js";
import { dateTime } from "../format.js";
import { every } from "../poll.js";

const EVENT_TYPES = ["alert.opened", "alert.updated", "alert.closed", "alert.summarized"];
const SEVERITIES = ["info", "warning", "critical"];
const list = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);

function checkboxes(name, values) {
  const boxes = values.map((value) => h("input", { type: "checkbox", name, value }));
  const group = h("fieldset", { class: "checks" }, h("legend", { text: name.replace("_", " ") }),
    boxes.map((box) => h("label", { class: "check" }, box, ` ${box.value}`)));
  return { group, boxes };
}

class WebhookForm {
  constructor(onSave) {
    this.url = h("input", { type: "url", name: "url", required: true, placeholder: "https://receiver.example/hook" });
    this.description = h("input", { name: "description", maxlength: "500" });
    this.cameras = h("input", { name: "cameras" });
    this.rules = h("input", { name: "rules" });
    this.severities = checkboxes("severities", SEVERITIES);
    this.eventTypes = checkboxes("event_types", EVENT_TYPES);
    this.title = h("h2", { text: "New webhook" });
    this.message = h("div", { class: "message", "aria-live": "polite" });
    this.cancel = h("button", { type: "button", class: "quiet", text: "Cancel edit", hidden: true,
      onclick: () => this.reset() });
    this.editing = null;
    this.node = h("form", { class: "panel webhook-form", onsubmit: (e) => { e.preventDefault(); onSave(this); } },
      this.title, field("URL", this.url), field("Description", this.description),
      field("Cameras", this.cameras, "Comma-separated; empty means every camera"),
      field("Rules", this.rules, "Comma-separated; empty means every rule"),
      this.severities.group, this.eventTypes.group,
      h("div", { class: "actions" }, h("button", { type: "submit", text: "Save webhook" }), this.cancel),
      this.message);
  }

  edit(hook) {
    this.editing = hook.id;
    this.url.value = hook.url;
    this.description.value = hook.description;
    this.cameras.value = hook.cameras.join(", ");
    this.rules.value = hook.rules.join(", ");
    for (const box of this.severities.boxes) box.checked = hook.severities.includes(box.value);
    for (const box of this.eventTypes.boxes) box.checked = hook.event_types.includes(box.value);
    this.title.textContent = `Edit webhook ${hook.id}`;
    this.cancel.hidden = false;
    this.url.focus();
  }

  reset() {
    this.node.reset();
    this.editing = null;
    this.title.textContent = "New webhook";
    this.cancel.hidden = true;
  }

  value() {
    const checked = (boxes) => boxes.filter((box) => box.checked).map((box) => box.value);
    return {
      url: this.url.value.trim(), description: this.description.value.trim(),
      cameras: list(this.cameras.value), rules: list(this.rules.value),
      severities: checked(this.severities.boxes), event_types: checked(this.eventTypes.boxes),
    };
  }
}

function deliveryRows(deliveries) {
  if (!deliveries.length) return h("p", { class: "muted", text: "No delivery attempts yet." });
  return h("div", { class: "table-wrap" }, h("table", { class: "deliveries" },
    h("thead", {}, h("tr", {}, ["Time", "Event", "Try", "Result", "ms"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, deliveries.map((d) => h("tr", { class: d.ok ? "ok" : "failed" },
      h("td", { text: dateTime(d.at) }), h("td", { text: d.event_type }), h("td", { text: String(d.attempt) }),
      h("td", { text: d.ok ? `delivered (${d.status})` : `failed: ${d.status ?? d.error}` }),
      h("td", { text: String(Math.round(d.duration_ms)) }))))));
}

class WebhookCard {
  constructor(hook, api, actions) {
    this.hook = hook;
    this.api = api;
    this.status = h("p", { class: "delivery-status", text: "Loading deliveries…" });
    this.deliveries = h("div", {});
    this.redeliver = h("button", { type: "button", class: "quiet", text: "Redeliver dead letters", disabled: true,
      onclick: () => actions.redeliver(hook) });
    const filters = ["cameras", "rules", "severities", "event_types"]
      .map((name) => `${name.replace("_", " ")}: ${hook[name].join(", ") || "all"}`).join(" · ");
    this.node = h("li", { class: `panel webhook${hook.enabled ? "" : " disabled"}`, dataset: { webhook: hook.id } },
      h("header", {}, h("h2", { text: hook.url }),
        h("span", { class: `badge ${hook.enabled ? "state-online" : "state-closed"}`, text: hook.enabled ? "enabled" : "disabled" })),
      hook.description ? h("p", { text: hook.description }) : null,
      h("p", { class: "muted", text: filters }),
      this.status,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "quiet", text: "Edit", onclick: () => actions.edit(hook) }),
        h("button", { type: "button", class: "quiet", text: hook.enabled ? "Disable" : "Enable",
          onclick: () => actions.toggle(hook) }),
        h("button", { type: "button", class: "quiet", text: "Send test", onclick: () => actions.test(hook) }),
        this.redeliver),
      h("details", {}, h("summary", { text: "Delivery log" }), this.deliveries));
  }

  async refresh(signal) {
    const base = `/v1/webhooks/${this.hook.id}`;
    const [deliveries, dead] = await Promise.all([
      this.api.get(`${base}/deliveries?limit=20`, signal), this.api.get(`${base}/dead-letters`, signal)]);
    const last = deliveries[0];
    const lastText = last ? `last ${last.ok ? "delivered" : "failed"} ${dateTime(last.at)}` : "nothing delivered yet";
    this.status.textContent = `${lastText} · ${dead.length} dead letter${dead.length === 1 ? "" : "s"}`;
    this.status.dataset.dead = String(dead.length);
    this.redeliver.disabled = dead.length === 0;
    this.redeliver.textContent = dead.length ? `Redeliver ${dead.length} dead letter${dead.length === 1 ? "" : "s"}` : "No dead letters";
    replace(this.deliveries, deliveryRows(deliveries));
  }
}

export function mount(root, { api }) {
  const listNode = h("ul", { class: "webhooks" });
  const message = h("div", { class: "message", "aria-live": "polite" });
  let cards = [];
  const say = (kind, title, detail) => replace(message, notice(kind, title, detail));
  const failed = (title) => (error) => replace(message, failureNotice(error, title));

  async function refresh() {
    let hooks;
    try {
      hooks = await api.get("/v1/webhooks");
    } catch (error) {
      return failed("Webhooks unavailable")(error);
    }
    cards = hooks.map((hook) => new WebhookCard(hook, api, actions));
    replace(listNode, cards.map((card) => card.node));
    if (!hooks.length) say("empty", "No webhooks yet", "Create one below to receive signed alert events.");
    await refreshStatus();
  }

  const refreshStatus = (signal) => Promise.all(cards.map((card) => card.refresh(signal).catch(() => {})));

  const actions = {
    edit: (hook) => form.edit(hook),
    toggle: (hook) => api.send("PATCH", `/v1/webhooks/${hook.id}`, { enabled: !hook.enabled })
      .then(refresh, failed("Not changed")),
    test: (hook) => api.send("POST", `/v1/webhooks/${hook.id}/test`).then((result) => {
      say(result.ok ? "info" : "warning", result.ok ? "Test delivered" : "Test failed",
        result.ok ? `HTTP ${result.status} in ${Math.round(result.duration_ms)} ms` : result.error || `HTTP ${result.status}`);
      return refreshStatus();
    }, failed("Test not sent")),
    redeliver: (hook) => api.send("POST", `/v1/webhooks/${hook.id}/dead-letters/redeliver`).then((result) => {
      say("info", `${result.requeued} message(s) queued again`, "The dispatcher delivers them in order.");
      return refreshStatus();
    }, failed("Not redelivered")),
  };

  async function save(webhookForm) {
    const spec = webhookForm.value();
    try {
      if (webhookForm.editing) {
        await api.send("PATCH", `/v1/webhooks/${webhookForm.editing}`, spec);
        replace(webhookForm.message, notice("info", "Webhook saved"));
      } else {
        const created = await api.send("POST", "/v1/webhooks", spec);
        replace(webhookForm.message, notice("warning", "Webhook created: store its secret now",
          `${created.secret} (shown only once; it verifies the signatures)`));
      }
      webhookForm.reset();
      await refresh();
    } catch (error) {
      replace(webhookForm.message, failureNotice(error, "Not saved"));
    }
  }

  const form = new WebhookForm(save);
  replace(root, pageHeading("Webhooks"), message, listNode, form.node);
  refresh();
  return every(3000, refreshStatus);
}
