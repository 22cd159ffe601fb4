// Repeats an async task with a pause between runs (never two at once), skipping runs while
// the tab is hidden; stop() ends it and aborts the run in flight.

export function every(intervalMs, task) {
  const controller = new AbortController();
  let timer = null;
  const run = async () => {
    if (controller.signal.aborted) return;
    if (!document.hidden) {
      try {
        await task(controller.signal);
      } catch (error) {
        if (error.name !== "AbortError") console.error(error);
      }
    }
    if (!controller.signal.aborted) {
      const wait = typeof intervalMs === "function" ? intervalMs() : intervalMs;
      timer = setTimeout(run, wait);
    }
  };
  run();
  return () => {
    controller.abort();
    clearTimeout(timer);
  };
}
