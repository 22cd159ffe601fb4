// Hash routes: #/cameras, #/cameras/{id}/zones, #/alerts?camera=…, #/alerts/al_…,
// #/search?q=…, #/ask, #/reports, #/reports/rp_…, #/rules, #/webhooks.

export function currentRoute() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  return { name: name || "cameras", id: rest[0] || null, part: rest[1] || null, query };
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
