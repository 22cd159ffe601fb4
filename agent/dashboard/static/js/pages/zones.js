// A camera's zones and masks (#/cameras/{id}/zones), drawn over its latest frame: zones are
// places rules can be about, masks places whose motion never counts.

import { h, notice, pageHeading, replace } from "../dom.js";
import { ZoneEditor } from "../zone-editor.js";

export function mount(root, { api, scope }, route) {
  const heading = pageHeading("Zones");
  const body = h("div", {}, notice("info", "Loading the camera…"));
  replace(root, h("p", {}, h("a", { href: "#/cameras", text: "← Cameras" })), heading, body);
  let editor = null;
  let stopped = false;

  async function start() {
    let camera;
    let zones;
    try {
      [camera, zones] = await Promise.all([
        api.get(`/v1/cameras/${encodeURIComponent(route.id)}`),
        api.get(`/v1/cameras/${encodeURIComponent(route.id)}/zones`),
      ]);
    } catch (error) {
      const title = error.status === 404 ? "No such camera" : "Camera unavailable";
      if (!stopped) replace(body, notice("error", title, error.message));
      return;
    }
    if (stopped) return;
    heading.querySelector("h1").textContent = `Zones of ${camera.name || camera.id}`;
    editor = new ZoneEditor(api, camera, zones);
    const readOnly = scope === "read"
      ? notice("info", "Signed in with a read key", "You can draw here, but saving needs an admin key.") : null;
    replace(body, readOnly, editor.node);
    editor.loadPicture();
  }

  start();
  return () => {
    stopped = true;
    editor?.stop();
  };
}
