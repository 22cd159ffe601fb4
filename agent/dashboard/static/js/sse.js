// The live alert feed: /v1/events read with fetch(), because EventSource cannot send the
// Authorization header (and the key must never go into a URL). Reconnects resume from
// the last event id, so nothing is missed and nothing comes twice.

export class SseParser {
  #buffer = "";
  #event = { id: null, type: "message", data: [] };
  retryMs = null;

  /** Text in, complete events out: [{ id, type, data }]. */
  push(text) {
    this.#buffer += text;
    const events = [];
    let match;
    while ((match = /\r\n|\n|\r(?!$)/.exec(this.#buffer)) !== null) {
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    return events;
  }

  #line(line) {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "data") this.#event.data.push(value);
    else if (name === "event") this.#event.type = value;
    else if (name === "id") this.#event.id = value;
    else if (name === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }

  #dispatch() {
    const { id, type, data } = this.#event;
    this.#event = { id: null, type: "message", data: [] };
    return data.length ? { id, type, data: data.join("\n") } : null;
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const cancel = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener("abort", cancel, { once: true });
  });

/** One connection for the whole session; pages subscribe to alert events. */
export class LiveFeed {
  #listeners = new Set();
  #statusListeners = new Set();
  #controller = null;
  #lastId = null;
  status = "connecting";

  constructor(token, onRefused) {
    this.token = token;
    this.onRefused = onRefused;
  }

  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onStatus(listener) {
    this.#statusListeners.add(listener);
    listener(this.status);
    return () => this.#statusListeners.delete(listener);
  }

  start() {
    this.#controller = new AbortController();
    this.#run(this.#controller.signal);
  }

  stop() {
    this.#controller?.abort();
  }

  #setStatus(status) {
    this.status = status;
    for (const listener of this.#statusListeners) listener(status);
  }

  async #run(signal) {
    let retryMs = 2000;
    while (!signal.aborted) {
      try {
        retryMs = (await this.#follow(signal)) ?? retryMs;
      } catch (error) {
        if (signal.aborted) return;
        if (error.status === 401) return this.onRefused(error);
      }
      if (signal.aborted) return;
      this.#setStatus("reconnecting");
      await sleep(retryMs, signal);
    }
  }

  async #follow(signal) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" };
    if (this.#lastId) headers["Last-Event-ID"] = this.#lastId;
    const response = await fetch("/v1/events", { headers, signal, cache: "no-store" });
    if (!response.ok) throw Object.assign(new Error("feed refused"), { status: response.status });
    this.#setStatus("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return parser.retryMs;
      for (const event of parser.push(value)) this.#deliver(event);
    }
  }

  #deliver(event) {
    if (event.id) this.#lastId = event.id;
    let payload;
    try {
      payload = JSON.parse(event.data);
    } catch {
      return;
    }
    for (const listener of this.#listeners) listener({ id: event.id, type: event.type, payload });
  }
}
