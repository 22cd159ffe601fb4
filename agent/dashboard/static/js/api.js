// Calls to Vigil's /v1 API with the key as a bearer token. Images and video go through
// fetch too (an <img> or <video> cannot send the header) and become blob: URLs.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const UNREACHABLE = "The Vigil API cannot be reached; check that Vigil is running.";

function describe(body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => `${item.loc.slice(1).join(".") || "body"}: ${item.msg}`).join("; ");
  }
  return "";
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(response.status, describe(body) || `${response.status} ${response.statusText}`);
}

export class Api {
  constructor(token, onRefused = () => {}) {
    this.token = token;
    this.onRefused = onRefused;
  }

  async #fetch(path, init = {}) {
    const headers = { Authorization: `Bearer ${this.token}`, ...(init.headers || {}) };
    let response;
    try {
      response = await fetch(path, { ...init, headers, cache: "no-store" });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, UNREACHABLE);
    }
    if (response.ok) return response;
    const error = await errorOf(response);
    if (response.status === 401) this.onRefused(error);
    throw error;
  }

  async get(path, signal) {
    return (await this.#fetch(path, { signal })).json();
  }

  async text(path, signal) {
    return (await this.#fetch(path, { signal })).text();
  }

  async send(method, path, body, signal) {
    const init = { method, signal };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "Content-Type": "application/json" };
    }
    const response = await this.#fetch(path, init);
    return response.status === 204 ? null : response.json();
  }

  /** The resource as a blob: URL (the caller revokes it) and the response's headers. */
  async objectUrl(path, signal) {
    const response = await this.#fetch(path, { signal });
    const blob = await response.blob();
    return { url: URL.createObjectURL(blob), headers: response.headers, size: blob.size };
  }
}

export function query(params) {
  const pairs = Object.entries(params).filter(([, value]) => value !== "" && value != null);
  return pairs.length ? `?${new URLSearchParams(pairs)}` : "";
}
