// A report's printable page in a new window. The page needs the key, so it is fetched here
// and written into a blank window of this origin, which keeps the dashboard's
// Content-Security-Policy: its inline <style> becomes a constructed style sheet and its
// inline (data:) thumbnails become blob: URLs, the two forms that policy allows.

const WAITING = "Preparing the report…";
const STYLE = /<style[^>]*>([\s\S]*?)<\/style>/gi;

function dataBlob(url) {
  const [head, body] = url.split(",", 2);
  const type = head.slice("data:".length).split(";")[0] || "application/octet-stream";
  const bytes = Uint8Array.from(atob(body), (char) => char.charCodeAt(0));
  return new Blob([bytes], { type });
}

// The page's inline style sheets are taken out before it is parsed: even an inert parsed
// document here reports them to the dashboard's policy.
function styles(html) {
  const sheets = [];
  const rest = html.replace(STYLE, (_, css) => { sheets.push(css); return ""; });
  return [sheets.join("\n"), rest];
}

function write(popup, html) {
  const [css, markup] = styles(html);
  const parsed = new DOMParser().parseFromString(markup, "text/html");
  for (const node of parsed.querySelectorAll("script, link, meta[http-equiv], [style]")) {
    if (node.matches("[style]")) node.removeAttribute("style");
    else node.remove();
  }
  for (const image of parsed.querySelectorAll("img[src^='data:']")) {
    image.src = popup.URL.createObjectURL(dataBlob(image.getAttribute("src")));
  }
  const sheet = new popup.CSSStyleSheet();
  sheet.replaceSync(css);
  const page = popup.document;
  page.adoptedStyleSheets = [sheet];
  page.documentElement.lang = parsed.documentElement.lang || "en";
  page.title = parsed.title;
  page.body.replaceChildren(...[...parsed.body.childNodes].map((node) => page.importNode(node, true)));
}

/**
 * Opens the page at `path` (a /v1/reports/{id}/print address) in a new window. Call it from
 * the click itself: the window opens at once (a later one would be taken for a pop-up), and
 * closes again if the page cannot be had, whose error is thrown.
 */
export async function openPrintable(api, path) {
  const popup = window.open("", "_blank");
  if (!popup) throw new Error("The browser blocked the new window: allow pop-ups for the dashboard.");
  popup.document.title = WAITING;
  popup.document.body.textContent = WAITING;
  try {
    write(popup, await api.text(path));
  } catch (error) {
    popup.close();
    throw error;
  }
  popup.focus();
}
