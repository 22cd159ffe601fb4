// The API key lives in sessionStorage: it survives a reload, not the closing of the tab.

const TOKEN = "vigil.key";
const SCOPE = "vigil.scope";

export function savedSession() {
  const token = sessionStorage.getItem(TOKEN);
  return token ? { token, scope: sessionStorage.getItem(SCOPE) || "read" } : null;
}

export function saveSession(token, scope) {
  sessionStorage.setItem(TOKEN, token);
  sessionStorage.setItem(SCOPE, scope);
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(SCOPE);
}
