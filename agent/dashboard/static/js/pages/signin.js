// Sign-in with an API key: checked against the API before it is kept for the session.

import { Api, ApiError } from "../api.js";
import { field, h, notice, replace } from "../dom.js";
import { saveSession } from "../session.js";

async function scopeOf(api) {
  try {
    await api.get("/v1/webhooks");
    return "admin";
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return "read";
    throw error;
  }
}

function refusal(error) {
  if (error.status === 401) return ["Key refused", "That API key is unknown or revoked."];
  if (error.status === 0) return ["Vigil unreachable", error.message];
  return ["Sign-in failed", error.message];
}

export function mount(root, { startSession, go }) {
  const reason = sessionStorage.getItem("vigil.signin-reason");
  sessionStorage.removeItem("vigil.signin-reason");
  const input = h("input", {
    type: "password", name: "key", autocomplete: "current-password", required: true,
    placeholder: "vk_…", spellcheck: "false",
  });
  const message = h("div", { class: "message", "aria-live": "polite" });
  if (reason) replace(message, notice("warning", "Signed out", reason));
  const button = h("button", { type: "submit", text: "Sign in" });

  async function submit(event) {
    event.preventDefault();
    const token = input.value.trim();
    button.disabled = true;
    replace(message, notice("info", "Checking the key…"));
    try {
      const api = new Api(token);
      await api.get("/v1/cameras");
      const scope = await scopeOf(api);
      saveSession(token, scope);
      startSession({ token, scope });
      go(location.hash.startsWith("#/signin") || !location.hash ? "#/cameras" : location.hash);
    } catch (error) {
      const [title, detail] = refusal(error);
      replace(message, notice("error", title, detail));
      button.disabled = false;
      input.select();
    }
  }

  const form = h(
    "form",
    { class: "signin", onsubmit: submit },
    h("h1", { text: "Vigil", tabindex: "-1" }),
    h("p", { class: "muted", text: "Sign in with an API key (vigil keys create). It is kept for this browser tab only." }),
    field("API key", input),
    button,
    message,
  );
  replace(root, h("section", { class: "signin-page" }, form));
  input.focus();
  return () => {};
}
