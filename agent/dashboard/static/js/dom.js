// Building elements without innerHTML: every value from the API lands as text.

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element: attributes as given ("class" and "text" as in `h`, "on…" listeners). */
export function svg(tag, props = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** A message box: kind is "info", "empty", "error" or "warning". */
export function notice(kind, title, detail = "") {
  return h(
    "div",
    { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("strong", { text: title }),
    detail ? h("p", { text: detail }) : null,
  );
}

// What a refused change says: an API answer 403 means the key in use may only read.
export function failureNotice(error, title) {
  return notice("error", error.status === 403 ? "Needs an admin key" : title, error.message);
}

export function pageHeading(text, ...extra) {
  return h("div", { class: "page-head" }, h("h1", { text, tabindex: "-1" }), ...extra);
}

/** A labelled form field; `control` is an input, select or textarea. */
export function field(label, control, hint = "") {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id, text: label }),
    control,
    hint ? h("small", { class: "hint", text: hint }) : null,
  );
}

export function options(select, values, selected, blankLabel) {
  const items = blankLabel === undefined ? [] : [h("option", { value: "", text: blankLabel })];
  for (const value of values) {
    const [key, label] = Array.isArray(value) ? value : [value, value];
    items.push(h("option", { value: key, text: label, selected: key === selected }));
  }
  return replace(select, items);
}
