// Reports: shift reports, newest first (made on a schedule or on request), a form to make
// one now, and the schedules. One report opens at #/reports/{id}.

import { query } from "../api.js";
import { h, notice, pageHeading, replace } from "../dom.js";
import { dateTime } from "../format.js";
import { ReportRequestForm } from "../report-request.js";
import { ScheduleSection } from "../report-schedules.js";

const PAGE = 50;

export const alertCount = (report) => report.counts.reduce((sum, count) => sum + count.alerts, 0);

export function cameraList(report, cameraNames) {
  return report.cameras.map((id) => cameraNames.get(id) || id).join(", ") || "no camera";
}

function failure(error) {
  if (error.status === 503 && /archive/.test(error.message)) {
    return ["warning", "The archive isn't configured", error.message];
  }
  if (error.status === 503) return ["warning", "Engine unavailable", error.message];
  if (error.status === 504) return ["warning", "The report took too long", error.message];
  if (error.status === 429) return ["warning", "Busy", error.message];
  if (error.status === 422) return ["error", "Check the period and cameras", error.message];
  return ["error", "No report made", error.message];
}

function reportItem(report, cameraNames, fresh = false) {
  const alerts = alertCount(report);
  const more = report.counts_are_lower_bounds ? "+" : "";
  return h("li", { class: `report-item${report.notable ? " notable" : ""}${fresh ? " fresh" : ""}`,
    dataset: { report: report.id } },
    h("a", { href: `#/reports/${encodeURIComponent(report.id)}` },
      h("span", { class: "when", text: `${dateTime(report.since)} → ${dateTime(report.until)}` }),
      h("span", { class: "what", text: cameraList(report, cameraNames) }),
      h("span", { class: "tags" },
        h("span", { class: `badge ${report.notable ? "notable" : "quiet-report"}`,
          text: report.notable ? "notable" : "nothing notable" }),
        h("span", { class: "badge alerts", text: `${alerts}${more} alert${alerts === 1 && !more ? "" : "s"}` }),
        h("span", { class: "badge origin", text: report.schedule ? `schedule ${report.schedule}` : "on request" }))));
}

export function mount(root, { api, scope }) {
  const list = h("ol", { class: "reports", "aria-label": "Reports, newest first" });
  const message = h("div", { class: "message" });
  const form = new ReportRequestForm(make);
  const schedules = new ScheduleSection(api, scope);
  const controller = new AbortController();
  let cameraNames = new Map();

  async function refresh(freshId = null) {
    try {
      const reports = await api.get(`/v1/reports${query({ limit: PAGE })}`, controller.signal);
      replace(list, reports.map((report) => reportItem(report, cameraNames, report.id === freshId)));
      replace(message, reports.length ? null : notice("empty", "No reports yet", "Make one now, or add a schedule."));
    } catch (error) {
      if (error.name !== "AbortError") replace(message, notice(...failure(error)));
    }
  }

  async function make() {
    const body = form.body();
    if (body.invalid) return replace(form.message, notice("error", "Check the period", body.invalid));
    form.button.disabled = true;
    replace(form.message, notice("info", "Writing the report…",
      "Counting the period's records; the model summarises them."));
    try {
      const report = await api.send("POST", "/v1/reports", body, controller.signal);
      replace(form.message, h("div", { class: "notice info", role: "status" },
        h("strong", { text: "Report made" }), " ",
        h("a", { href: `#/reports/${encodeURIComponent(report.id)}`, text: "Open it" })));
      await refresh(report.id);
    } catch (error) {
      if (error.name !== "AbortError") replace(form.message, notice(...failure(error)));
    } finally {
      form.button.disabled = false;
    }
  }

  replace(root, pageHeading("Reports"), h("div", { class: "reports-page" },
    h("section", { class: "report-list", "aria-labelledby": "reports-title" },
      h("h2", { id: "reports-title", text: "Newest first" }), message, list),
    h("div", { class: "report-side" }, form.node, schedules.node)));
  api.get("/v1/cameras", controller.signal).then((cameras) => {
    cameraNames = new Map(cameras.map((c) => [c.id, c.name || c.id]));
    form.setCameras([...cameraNames]);
    return refresh();
  }, (error) => {
    if (error.name === "AbortError") return null;
    form.setCameras([]);
    replace(form.message, notice("error", "Cameras unavailable", error.message));
    return refresh();
  });
  schedules.refresh();
  return () => controller.abort();
}
