// Hash routes: #/cameras, #/alerts?camera=…, #/alerts/al_…, #/search?q=…, #/ask, #/rules,
// #/webhooks.

export function currentRoute() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: name || "cameras", id: rest[0] || null, query: new URLSearchParams(search) };
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
