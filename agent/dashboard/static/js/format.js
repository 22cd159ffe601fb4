// Times are shown in UTC, as they are burned into the frames.

const pad = (n) => String(n).padStart(2, "0");

export function clock(epochS) {
  const d = new Date(epochS * 1000);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export function dateTime(epochS) {
  if (epochS === null || epochS === undefined) return "—";
  const d = new Date(epochS * 1000);
  const today = new Date().toISOString().slice(0, 10);
  const day = d.toISOString().slice(0, 10);
  return `${day === today ? "" : `${day} `}${clock(epochS)} UTC`;
}

export function ago(epochS, nowS = Date.now() / 1000) {
  const s = Math.max(0, Math.round(nowS - epochS));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export function percent(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`;
}

export function fps(value) {
  const n = Number(value);
  return Number.isFinite(n) ? `${n.toFixed(1)} fps` : "— fps";
}

export function span(startS, endS) {
  return `${clock(startS)}–${clock(endS)} UTC`;
}

// A datetime-local field holds a UTC time here (as every time shown): "2026-01-01T10:00".
export function fromUtcInput(value) {
  const ms = value ? Date.parse(`${value}Z`) : NaN;
  return Number.isFinite(ms) ? ms / 1000 : null;
}

export function toUtcInput(epochS) {
  return new Date(epochS * 1000).toISOString().slice(0, 16);
}

// The same to the second, for a field with step="1": "2026-01-01T10:00:05".
export function toUtcSecondsInput(epochS) {
  return new Date(Math.floor(epochS) * 1000).toISOString().slice(0, 19);
}
