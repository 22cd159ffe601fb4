// The dashboard's shell: sign-in gate, navigation, the live feed, MQTT's state, and one page
// at a time.

import { Api } from "./api.js";
import { h, replace } from "./dom.js";
import { mqttIndicator } from "./mqtt.js";
import * as alertPage from "./pages/alert.js";
import * as alertsPage from "./pages/alerts.js";
import * as askPage from "./pages/ask.js";
import * as camerasPage from "./pages/cameras.js";
import * as reportPage from "./pages/report.js";
import * as reportsPage from "./pages/reports.js";
import * as rulesPage from "./pages/rules.js";
import * as searchPage from "./pages/search.js";
import * as signinPage from "./pages/signin.js";
import * as webhooksPage from "./pages/webhooks.js";
import * as zonesPage from "./pages/zones.js";
import { currentRoute, go } from "./router.js";
import { clearSession, savedSession } from "./session.js";
import { LiveFeed } from "./sse.js";

const PAGES = {
  cameras: { title: "Cameras", page: camerasPage },
  alerts: { title: "Alerts", page: alertsPage },
  search: { title: "Search", page: searchPage },
  ask: { title: "Ask", page: askPage },
  reports: { title: "Reports", page: reportsPage },
  rules: { title: "Rules", page: rulesPage },
  webhooks: { title: "Webhooks", page: webhooksPage },
};
// Pages below a listed one, named by the route: #/alerts/{id}, #/reports/{id},
// #/cameras/{id}/zones.
const SUBPAGES = {
  alert: { title: "Alert", page: alertPage },
  report: { title: "Report", page: reportPage },
  zones: { title: "Zones", page: zonesPage },
};
const FEED_LABELS = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" };

let session = null;
let stopPage = () => {};

function signOut(reason = "") {
  session?.feed.stop();
  session = null;
  clearSession();
  sessionStorage.setItem("vigil.signin-reason", reason);
  go("#/signin");
}

function startSession(saved) {
  const refused = () => signOut("The API refused the key (revoked?). Sign in again.");
  const api = new Api(saved.token, refused);
  const feed = new LiveFeed(saved.token, refused);
  feed.start();
  session = { api, feed, scope: saved.scope };
}

function header(active) {
  const links = Object.entries(PAGES).map(([name, { title }]) =>
    h("a", { href: `#/${name}`, text: title, "aria-current": name === active ? "page" : null }),
  );
  const feedState = h("span", { class: "feed", id: "feed-state" });
  const unsubscribeFeed = session.feed.onStatus((status) => {
    feedState.textContent = FEED_LABELS[status] || status;
    feedState.dataset.status = status;
  });
  const mqtt = mqttIndicator(session.api);
  const bar = h(
    "div",
    { class: "bar" },
    h("a", { class: "brand", href: "#/cameras", "aria-label": "Vigil home" }, "Vigil"),
    h("nav", { "aria-label": "Pages" }, links),
    mqtt.node,
    h(
      "div",
      { class: "who" },
      feedState,
      h("span", { class: "scope", text: `${session.scope} key` }),
      h("button", { type: "button", class: "quiet", text: "Sign out", onclick: () => signOut() }),
    ),
  );
  const stop = () => {
    unsubscribeFeed();
    mqtt.stop();
  };
  return { bar, stop };
}

function subpage(route) {
  if (route.name === "alerts" && route.id) return "alert";
  if (route.name === "reports" && route.id) return "report";
  if (route.name === "cameras" && route.id && route.part === "zones") return "zones";
  return null;
}

function render() {
  stopPage();
  const route = currentRoute();
  const top = document.getElementById("top");
  const main = document.getElementById("main");
  if (!session) {
    const saved = savedSession();
    if (saved && route.name !== "signin") startSession(saved);
  }
  if (!session || route.name === "signin") {
    top.hidden = true;
    document.title = "Sign in · Vigil";
    stopPage = signinPage.mount(main, { startSession, go });
    return;
  }
  const entry = SUBPAGES[subpage(route)] || PAGES[route.name];
  if (!entry) return go("#/cameras");
  document.title = `${entry.title} · Vigil`;
  const { bar, stop: stopHeader } = header(route.name);
  replace(top, bar);
  top.hidden = false;
  const stopContent = entry.page.mount(main, { ...session, go }, route);
  stopPage = () => {
    stopHeader();
    stopContent();
  };
  main.querySelector("h1")?.focus({ preventScroll: true });
}

window.addEventListener("hashchange", render);
render();
