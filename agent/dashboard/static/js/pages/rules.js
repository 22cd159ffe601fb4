// Rules: how they do (`rule-stats.js`), list, create, edit, enable and disable. Workers
// read rules for every window, so a change applies to the next one.

import { failureNotice, field, h, notice, options, pageHeading, replace } from "../dom.js";
import { RuleStatsSection } from "../rule-stats.js";

const NUMBERS = [
  ["threshold", "Threshold (minimum confidence)", "0.5", "0.05"],
  ["consecutive", "Consecutive positive windows", "1", "1"],
  ["close_after_s", "Close after quiet seconds", "30", "1"],
  ["cooldown_s", "Cooldown seconds", "60", "1"],
];
const list = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);

class RuleForm {
  constructor(onSave) {
    this.inputs = {
      id: h("input", { name: "id", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*", maxlength: "64" }),
      question: h("textarea", { name: "question", rows: "2", required: true, minlength: "3", maxlength: "500" }),
      cameras: h("input", { name: "cameras", value: "*" }),
      disabled_cameras: h("input", { name: "disabled_cameras" }),
      severity: options(h("select", { name: "severity" }), ["info", "warning", "critical"], "warning"),
      active_hours: h("input", { name: "active_hours", placeholder: "22:00-06:00" }),
      motion_gated: h("input", { type: "checkbox", name: "motion_gated", defaultChecked: true }),
      enabled: h("input", { type: "checkbox", name: "enabled", defaultChecked: true }),
    };
    for (const [name, , value, step] of NUMBERS) {
      this.inputs[name] = h("input", { type: "number", name, value, step, min: "0" });
    }
    this.title = h("h2", { text: "New rule" });
    this.message = h("div", { class: "message", "aria-live": "polite" });
    this.cancel = h("button", { type: "button", class: "quiet", text: "Cancel edit", hidden: true,
      onclick: () => this.reset() });
    const i = this.inputs;
    this.node = h("form", { class: "panel rule-form", onsubmit: (e) => { e.preventDefault(); onSave(this); } },
      this.title,
      field("Id", i.id), field("Question", i.question),
      field("Cameras", i.cameras, "Camera ids, comma-separated; * for every camera"),
      field("Switched off on", i.disabled_cameras, "Cameras where the rule is off, the others keep it"),
      field("Severity", i.severity),
      NUMBERS.map(([name, label]) => field(label, i[name])),
      field("Active hours (UTC)", i.active_hours, "Comma-separated ranges; empty means always"),
      h("label", { class: "check" }, i.motion_gated, " Skip still windows (motion gated)"),
      h("label", { class: "check" }, i.enabled, " Enabled"),
      h("div", { class: "actions" }, h("button", { type: "submit", text: "Save rule" }), this.cancel),
      this.message);
    this.editing = null;
  }

  edit(rule) {
    const i = this.inputs;
    this.editing = rule.id;
    i.id.value = rule.id;
    i.id.readOnly = true;
    i.question.value = rule.question;
    i.cameras.value = rule.cameras.join(", ");
    i.disabled_cameras.value = rule.disabled_cameras.join(", ");
    i.severity.value = rule.severity;
    i.active_hours.value = rule.active_hours.join(", ");
    i.motion_gated.checked = rule.motion_gated;
    i.enabled.checked = rule.enabled;
    for (const [name] of NUMBERS) i[name].value = String(rule[name]);
    this.title.textContent = `Edit rule ${rule.id}`;
    this.cancel.hidden = false;
    replace(this.message);
    i.question.focus();
  }

  reset() {
    this.node.reset();
    this.editing = null;
    this.inputs.id.readOnly = false;
    this.title.textContent = "New rule";
    this.cancel.hidden = true;
  }

  value() {
    const i = this.inputs;
    const rule = {
      id: i.id.value.trim(), question: i.question.value.trim(), cameras: list(i.cameras.value),
      disabled_cameras: list(i.disabled_cameras.value),
      severity: i.severity.value, active_hours: list(i.active_hours.value),
      motion_gated: i.motion_gated.checked, enabled: i.enabled.checked,
    };
    for (const [name] of NUMBERS) rule[name] = Number(i[name].value);
    if (!rule.cameras.length) rule.cameras = ["*"];
    return rule;
  }
}

function ruleCard(rule, onEdit, onToggle) {
  return h("li", { class: `panel rule${rule.enabled ? "" : " disabled"}`, dataset: { rule: rule.id } },
    h("header", {}, h("h2", { text: rule.id }),
      h("span", { class: `badge sev-${rule.severity}`, text: rule.severity }),
      h("span", { class: `badge ${rule.enabled ? "state-online" : "state-closed"}`, text: rule.enabled ? "enabled" : "disabled" })),
    h("p", { class: "question", text: rule.question }),
    h("p", { class: "muted", text: `Cameras ${rule.cameras.join(", ")} · threshold ${rule.threshold} · `
      + `${rule.consecutive} window(s) to open · closes after ${rule.close_after_s} s`
      + (rule.active_hours.length ? ` · active ${rule.active_hours.join(", ")} UTC` : "")
      + (rule.disabled_cameras.length ? ` · switched off on ${rule.disabled_cameras.join(", ")}` : "") }),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "quiet", text: "Edit", onclick: () => onEdit(rule) }),
      h("button", { type: "button", class: "quiet", text: rule.enabled ? "Disable" : "Enable",
        onclick: () => onToggle(rule) })));
}

// Events that change the counts of "How rules do".
const COUNTED = new Set(["alert.opened", "alert.feedback"]);

export function mount(root, { api, feed }) {
  const listNode = h("ul", { class: "rules" });
  const message = h("div", { class: "message", "aria-live": "polite" });

  async function refresh() {
    try {
      const rules = await api.get("/v1/rules");
      replace(listNode, rules.map((rule) => ruleCard(rule, (r) => form.edit(r), toggle)));
      replace(message, rules.length ? null : notice("empty", "No rules yet", "Create one below."));
    } catch (error) {
      replace(message, notice("error", "Rules unavailable", error.message));
    }
  }

  async function toggle(rule) {
    try {
      await api.send("PUT", `/v1/rules/${rule.id}`, { ...rule, enabled: !rule.enabled });
      await refresh();
    } catch (error) {
      replace(message, failureNotice(error, "Not changed"));
    }
  }

  async function save(ruleForm) {
    const rule = ruleForm.value();
    try {
      if (ruleForm.editing) await api.send("PUT", `/v1/rules/${rule.id}`, rule);
      else await api.send("POST", "/v1/rules", rule);
      ruleForm.reset();
      replace(ruleForm.message, notice("info", `Rule ${rule.id} saved`, "It applies from the next window."));
      await refresh();
    } catch (error) {
      replace(ruleForm.message, failureNotice(error, "Not saved"));
    }
  }

  const form = new RuleForm(save);
  const stats = new RuleStatsSection(api);
  replace(root, pageHeading("Rules"), message, listNode, stats.node, form.node);
  refresh();
  stats.refresh();
  const unsubscribe = feed.subscribe((event) => {
    if (COUNTED.has(event.type)) stats.refresh();
  });
  return () => {
    unsubscribe();
    stats.stop();
  };
}
