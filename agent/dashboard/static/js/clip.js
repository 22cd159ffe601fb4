// Clips as video: a blob: URL (fetched with the key) played muted and looping, so it starts
// at once; its frames carry their burned wall-clock timestamps.

import { h, replace } from "./dom.js";

export function showClip(container, url, label) {
  const video = h("video", {
    src: url, controls: true, muted: true, autoplay: true, loop: true, playsInline: true,
    "aria-label": label,
  });
  replace(container, video);
  video.play().catch(() => {});
  return video;
}
