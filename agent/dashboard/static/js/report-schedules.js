// Report schedules on the Reports page: a report every day at a UTC time over the hours
// before it, on some cameras or every one. Any key sees them; saving or deleting one needs
// an admin key, which the API's refusal says.

import { failureNotice, field, h, notice, replace } from "./dom.js";

const list = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);

function describe(schedule) {
  const cameras = schedule.cameras.length ? schedule.cameras.join(", ") : "every camera";
  const hours = `${schedule.hours} hour${schedule.hours === 1 ? "" : "s"}`;
  return `Daily at ${schedule.at} UTC, over the ${hours} before · ${cameras}`;
}

function scheduleRow(schedule, actions) {
  return h("li", { class: `schedule${schedule.enabled ? "" : " disabled"}`, dataset: { schedule: schedule.id } },
    h("header", {}, h("h3", { text: schedule.id }),
      h("span", { class: `badge ${schedule.enabled ? "state-online" : "state-closed"}`,
        text: schedule.enabled ? "enabled" : "disabled" })),
    h("p", { class: "muted", text: describe(schedule) }),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "quiet", text: "Edit", "aria-label": `Edit schedule ${schedule.id}`,
        onclick: () => actions.edit(schedule) }),
      h("button", { type: "button", class: "quiet", text: "Delete", "aria-label": `Delete schedule ${schedule.id}`,
        onclick: () => actions.remove(schedule) })));
}

class ScheduleForm {
  constructor(onSave) {
    this.inputs = {
      id: h("input", { name: "id", required: true, pattern: "[a-z0-9][a-z0-9_\\-]*", maxlength: "64",
        placeholder: "night-shift" }),
      at: h("input", { type: "time", name: "at", required: true, value: "06:00" }),
      hours: h("input", { type: "number", name: "hours", required: true, min: "0.1", max: "168", step: "any",
        value: "8" }),
      cameras: h("input", { name: "cameras" }),
      enabled: h("input", { type: "checkbox", name: "enabled", defaultChecked: true }),
    };
    const i = this.inputs;
    this.title = h("h3", { text: "New schedule" });
    this.message = h("div", { class: "message", "aria-live": "polite" });
    this.cancel = h("button", { type: "button", class: "quiet", text: "Cancel edit", hidden: true,
      onclick: () => this.reset() });
    this.editing = null;
    this.node = h("form", { class: "schedule-form", onsubmit: (e) => { e.preventDefault(); onSave(this); } },
      this.title,
      field("Schedule id", i.id, "Lower-case letters, digits, - and _"),
      field("At (UTC)", i.at, "The report is made then, over the hours before"),
      field("Hours", i.hours, "Length of the period, at most 168"),
      field("Schedule cameras", i.cameras, "Camera ids, comma-separated; empty means every camera"),
      h("label", { class: "check" }, i.enabled, " Enabled"),
      h("div", { class: "actions" }, h("button", { type: "submit", text: "Save schedule" }), this.cancel),
      this.message);
  }

  edit(schedule) {
    const i = this.inputs;
    this.editing = schedule.id;
    i.id.value = schedule.id;
    i.id.readOnly = true;
    i.at.value = schedule.at;
    i.hours.value = String(schedule.hours);
    i.cameras.value = schedule.cameras.join(", ");
    i.enabled.checked = schedule.enabled;
    this.title.textContent = `Edit schedule ${schedule.id}`;
    this.cancel.hidden = false;
    replace(this.message);
    i.at.focus();
  }

  reset() {
    this.node.reset();
    this.editing = null;
    this.inputs.id.readOnly = false;
    this.title.textContent = "New schedule";
    this.cancel.hidden = true;
  }

  value() {
    const i = this.inputs;
    return { id: i.id.value.trim(), at: i.at.value, hours: Number(i.hours.value),
      cameras: list(i.cameras.value), enabled: i.enabled.checked };
  }
}

export class ScheduleSection {
  constructor(api, scope) {
    this.api = api;
    this.list = h("ul", { class: "schedules", "aria-label": "Report schedules" });
    this.message = h("div", { class: "message", "aria-live": "polite" });
    this.empty = h("div", {});
    this.form = new ScheduleForm((form) => this.#save(form));
    const readOnly = scope === "read" ? notice("info", "Signed in with a read key",
      "You can see the schedules; saving or deleting one needs an admin key.") : null;
    this.node = h("section", { class: "panel report-schedules", "aria-labelledby": "schedules-title" },
      h("h2", { id: "schedules-title", text: "Schedules" }), readOnly, this.message, this.empty, this.list, this.form.node);
  }

  async refresh() {
    try {
      const schedules = await this.api.get("/v1/reports/schedules");
      const actions = { edit: (s) => this.form.edit(s), remove: (s) => this.#remove(s) };
      replace(this.list, schedules.map((schedule) => scheduleRow(schedule, actions)));
      replace(this.empty, schedules.length ? null
        : notice("empty", "No schedules", "Reports are made on request only."));
    } catch (error) {
      replace(this.message, notice("error", "Schedules unavailable", error.message));
    }
  }

  async #save(form) {
    const schedule = form.value();
    try {
      await this.api.send("PUT", `/v1/reports/schedules/${encodeURIComponent(schedule.id)}`, schedule);
      form.reset();
      replace(form.message, notice("info", `Schedule ${schedule.id} saved`, describe(schedule)));
      replace(this.message);
      await this.refresh();
    } catch (error) {
      replace(form.message, failureNotice(error, "Not saved"));
    }
  }

  async #remove(schedule) {
    try {
      await this.api.send("DELETE", `/v1/reports/schedules/${encodeURIComponent(schedule.id)}`);
      replace(this.message, notice("info", `Schedule ${schedule.id} deleted`));
      if (this.form.editing === schedule.id) this.form.reset();
      await this.refresh();
    } catch (error) {
      replace(this.message, failureNotice(error, "Not deleted"));
    }
  }
}
