// Ask: a question about a camera's last seconds, answered with the model's reasoning
// (clip times placed on the wall clock, the model's own text a click away).

import { field, h, notice, options, pageHeading, replace } from "../dom.js";
import { span } from "../format.js";
import { placedText } from "../placed.js";

function failure(error) {
  if (error.status === 503) return ["warning", "Engine unavailable", error.message];
  if (error.status === 504) return ["warning", "The engine took too long", error.message];
  if (error.status === 404) return ["empty", "No recent frames", `${error.message}. Is the camera offline?`];
  return ["error", "No answer", error.message];
}

function answerView(result) {
  return h("section", { class: "panel answer" },
    h("h2", { text: "Answer" }),
    result.answer ? placedText(result.answer_placed, result.answer, "summary")
      : notice("warning", "The answer was not in the expected form", result.failure || ""),
    result.reasoning ? h("details", { open: true }, h("summary", { text: "Reasoning" }),
      placedText(result.reasoning_placed, result.reasoning, "reasoning")) : null,
    h("p", { class: "muted", text: `${result.frames} frames, ${span(result.clip_start, result.clip_end)}, `
      + `${result.prompt_tokens}+${result.completion_tokens} tokens, ${Math.round(result.latency_ms)} ms` }));
}

export function mount(root, { api }) {
  const camera = h("select", { name: "camera", required: true });
  const seconds = h("input", { type: "number", name: "seconds", min: "1", max: "60", step: "1", value: "8" });
  const question = h("textarea", { name: "question", rows: "3", required: true, minlength: "3", maxlength: "2000",
    placeholder: "Is anyone riding a bicycle?" });
  const button = h("button", { type: "submit", text: "Ask" });
  const result = h("div", { class: "result", "aria-live": "polite" });
  const controller = new AbortController();

  async function submit(event) {
    event.preventDefault();
    button.disabled = true;
    replace(result, notice("info", "Thinking…", "The model is reasoning over the clip."));
    try {
      const body = { camera: camera.value, question: question.value.trim(), seconds: Number(seconds.value) };
      replace(result, answerView(await api.send("POST", "/v1/ask", body, controller.signal)));
    } catch (error) {
      if (error.name !== "AbortError") replace(result, notice(...failure(error)));
    } finally {
      button.disabled = false;
    }
  }

  const form = h("form", { class: "panel ask", onsubmit: submit },
    field("Camera", camera), field("Last seconds", seconds), field("Question", question), button);
  replace(root, pageHeading("Ask"), form, result);
  api.get("/v1/cameras").then(
    (cameras) => options(camera, cameras.map((c) => [c.id, c.name || c.id])),
    (error) => replace(result, notice("error", "Cameras unavailable", error.message)));
  return () => controller.abort();
}
