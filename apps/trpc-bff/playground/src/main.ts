import "./style.css";
import type { Unsubscribable } from "@trpc/server/observable";
import {
  type BffErrorDescription,
  createBffClient,
  describeBffError,
  type WebCompletionSummary,
  type WebJob,
  type WebModel,
} from "../../src/client/create-bff-client.js";

/** The page's state: the session's CSRF token lives here, in memory only; the key never does. */
const state = {
  csrfToken: null as string | null,
  models: [] as WebModel[],
  history: [] as Array<{ role: "user" | "assistant"; content: string }>,
  streaming: null as Unsubscribable | null,
  jobFilter: "" as "" | "active" | "completed" | "dead-lettered" | "failed",
  watches: new Map<string, Unsubscribable>(),
};

const trpc = createBffClient({ url: "/trpc", csrfToken: () => state.csrfToken });

function $(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element;
}
const input = (id: string) => $(id) as HTMLInputElement;
const textarea = (id: string) => $(id) as HTMLTextAreaElement;
const select = (id: string) => $(id) as HTMLSelectElement;
const button = (id: string) => $(id) as HTMLButtonElement;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; title?: string } = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.className) element.className = props.className;
  if (props.text !== undefined) element.textContent = props.text;
  if (props.title) element.title = props.title;
  element.append(...children);
  return element;
}

function show(id: string, visible: boolean) {
  $(id).hidden = !visible;
}

/** Shows a failed call: the server's message (which names the correlation id) and field errors beside their fields. */
function showError(error: BffErrorDescription, target = "app-error") {
  for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
  if (error.code === "UNAUTHORIZED" && target !== "api-key-error") {
    signedOut("Your session ended; sign in again.");
    return;
  }
  let placed = false;
  for (const field of error.fieldErrors) {
    const root = field.path.split(".")[0] ?? "";
    const slot = document.getElementById(`${root}-error`);
    if (slot) {
      slot.textContent = field.message;
      placed = true;
    }
  }
  if (placed && target === "app-error") return;
  const banner = $(target);
  banner.textContent = messageOf(error);
  banner.hidden = false;
}

function messageOf(error: BffErrorDescription): string {
  if (error.code === "NETWORK") return "Cannot reach the server. Check your connection and try again.";
  const retry = error.retryAfterMs ? ` Try again in ${Math.ceil(error.retryAfterMs / 1000)} s.` : "";
  return `${error.message}${retry}`;
}

function clearError() {
  $("app-error").hidden = true;
  for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
}

function setConnection(status: "ok" | "busy" | "lost") {
  const dot = $("connection-dot");
  dot.dataset.status = status;
  dot.title = { ok: "connected", busy: "streaming", lost: "disconnected" }[status];
}

// ---------- session ----------

function signedOut(message = "") {
  state.csrfToken = null;
  stopStreaming();
  for (const watch of state.watches.values()) watch.unsubscribe();
  state.watches.clear();
  show("loading", false);
  show("app", false);
  show("session-bar", false);
  show("sign-in", true);
  $("api-key-error").textContent = message;
  input("api-key").focus();
}

async function signedIn(keyPrefix: string | null) {
  show("loading", false);
  show("sign-in", false);
  show("app", true);
  show("session-bar", true);
  $("session-label").textContent = `key ${keyPrefix ?? ""}`;
  setConnection("ok");
  await loadModels();
}

async function start() {
  try {
    const session = await trpc.auth.session.query();
    state.csrfToken = session.csrfToken;
    if (session.signedIn) await signedIn(session.keyPrefix);
    else signedOut();
  } catch (error) {
    show("loading", true);
    $("loading").textContent = messageOf(describeBffError(error));
    setTimeout(start, 3_000);
  }
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const apiKey = input("api-key").value.trim();
  $("api-key-error").textContent = "";
  if (!apiKey) {
    $("api-key-error").textContent = "Paste an API key.";
    return;
  }
  button("sign-in-button").disabled = true;
  button("sign-in-button").textContent = "Signing in…";
  try {
    const session = await trpc.auth.signIn.mutate({ apiKey });
    state.csrfToken = session.csrfToken;
    input("api-key").value = "";
    await signedIn(session.keyPrefix);
  } catch (error) {
    const described = describeBffError(error);
    $("api-key-error").textContent =
      described.code === "UNAUTHORIZED"
        ? `That key was not accepted: ${described.message}`
        : messageOf(described);
  } finally {
    button("sign-in-button").disabled = false;
    button("sign-in-button").textContent = "Sign in";
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await trpc.auth.signOut.mutate();
  } catch {
    // The cookie may already be gone; the page signs out either way.
  }
  signedOut();
});

// ---------- models ----------

async function loadModels() {
  const picker = select("model");
  picker.replaceChildren(el("option", { text: "Loading models…" }));
  picker.disabled = true;
  try {
    state.models = (await trpc.models.list.query()).filter((model) => model.capabilities.includes("chat"));
    picker.replaceChildren(
      ...state.models.map((model) => {
        const option = el("option", { text: `${model.id} · ${model.provider}` });
        option.value = model.id;
        return option;
      }),
    );
    picker.disabled = state.models.length === 0;
    if (state.models.length === 0) picker.replaceChildren(el("option", { text: "No models for this key" }));
    renderModelInfo();
  } catch (error) {
    picker.replaceChildren(el("option", { text: "Could not load models" }));
    showError(describeBffError(error));
  }
}

function renderModelInfo() {
  const model = state.models.find((candidate) => candidate.id === select("model").value);
  const info = $("model-info");
  if (!model) {
    info.replaceChildren();
    return;
  }
  const badges = model.capabilities.map((capability) => el("span", { className: "badge", text: capability }));
  const facts = [
    `provider ${model.provider}`,
    model.contextLength ? `context ${model.contextLength.toLocaleString()} tokens` : "",
    model.targets.length ? `routes to ${model.targets.join(" → ")}` : "",
    model.circuit?.state === "open" ? "circuit open: failing, skipped for now" : "",
  ].filter(Boolean);
  info.replaceChildren(el("div", { className: "badges" }, ...badges), el("div", { text: facts.join(" · ") }));
}
select("model").addEventListener("change", renderModelInfo);

// ---------- chat ----------

input("temperature").addEventListener("input", () => {
  $("temperature-value").textContent = Number(input("temperature").value).toFixed(1);
});

function addTurn(role: "user" | "assistant", text: string) {
  show("transcript-empty", false);
  const body = el("div", { className: "turn-text", text });
  const meta = el("div", { className: "turn-meta muted" });
  const turn = el(
    "li",
    { className: `turn ${role}` },
    el("div", { className: "turn-role", text: role }),
    body,
    meta,
  );
  $("transcript").append(turn);
  turn.scrollIntoView({ block: "end" });
  return { turn, body, meta };
}

function describeUsage(summary: WebCompletionSummary, elapsedMs: number): string {
  const cost = summary.costUsd === 0 ? "$0" : `$${summary.costUsd.toFixed(6)}`;
  return [
    `${summary.finishReason === "length" ? "reached max tokens" : summary.finishReason}`,
    `${summary.usage.promptTokens} prompt + ${summary.usage.completionTokens} completion tokens`,
    `cost ${cost}`,
    `${summary.model}${summary.cached ? ` (cached, ${summary.cacheTier})` : ""}`,
    `${(elapsedMs / 1000).toFixed(1)} s`,
  ].join(" · ");
}

function setStreaming(active: boolean) {
  show("stop", active);
  button("send").disabled = active;
  setConnection(active ? "busy" : "ok");
}

function stopStreaming() {
  state.streaming?.unsubscribe();
  state.streaming = null;
  setStreaming(false);
}

function send() {
  clearError();
  const prompt = textarea("prompt").value.trim();
  if (!prompt || state.streaming) return;
  const model = select("model").value;
  const maxTokens = Number(input("max-tokens").value);
  const temperature = Number(input("temperature").value);
  const system = textarea("system-prompt").value.trim();
  const messages = [
    ...(system ? [{ role: "system" as const, content: system }] : []),
    ...state.history,
    { role: "user" as const, content: prompt },
  ];
  addTurn("user", prompt);
  textarea("prompt").value = "";
  const answer = addTurn("assistant", "");
  answer.turn.classList.add("streaming");
  $("chat-status").textContent = "Generating…";
  setStreaming(true);
  const started = performance.now();
  let text = "";
  let connected = false;
  const finish = (status: string, className?: string) => {
    answer.turn.classList.remove("streaming");
    if (className) answer.turn.classList.add(className);
    $("chat-status").textContent = status;
    state.streaming = null;
    setStreaming(false);
  };
  state.streaming = trpc.chat.stream.subscribe(
    { model, messages, maxTokens, temperature },
    {
      onData(event) {
        if (event.type === "delta") {
          text += event.text;
          answer.body.textContent = text;
          answer.turn.scrollIntoView({ block: "end" });
        } else if (event.type === "done") {
          answer.meta.textContent = describeUsage(event, performance.now() - started);
          state.history.push({ role: "user", content: prompt }, { role: "assistant", content: text });
          state.streaming?.unsubscribe();
          finish("Done.");
        } else {
          answer.meta.textContent = `${event.code}: ${event.message}`;
          answer.turn.classList.add("failed");
          state.streaming?.unsubscribe();
          finish("Failed.", "failed");
          showError({ ...event, fieldErrors: [] });
        }
      },
      onError(error) {
        finish("Failed.", "failed");
        answer.meta.textContent = messageOf(describeBffError(error));
        showError(describeBffError(error));
      },
      onConnectionStateChange(change) {
        if (change.state === "pending") connected = true;
        // The stream dropped: do not let EventSource reconnect, which would start a second generation.
        if (change.state === "connecting" && connected && state.streaming) {
          state.streaming.unsubscribe();
          answer.meta.textContent =
            "Disconnected: the connection to the server was lost and the answer was cut.";
          finish("Disconnected.", "failed");
          setConnection("lost");
        }
      },
    },
  );
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
textarea("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    send();
  }
});
$("stop").addEventListener("click", () => {
  const turn = $("transcript").querySelector(".turn.streaming");
  stopStreaming();
  if (turn) {
    turn.classList.remove("streaming");
    turn.classList.add("stopped");
    const meta = turn.querySelector(".turn-meta");
    if (meta) meta.textContent = "Stopped: generation cancelled.";
  }
  $("chat-status").textContent = "Stopped.";
});
$("clear-chat").addEventListener("click", () => {
  stopStreaming();
  state.history = [];
  $("transcript").replaceChildren();
  show("transcript-empty", true);
  $("chat-status").textContent = "";
});

// ---------- jobs ----------

function selectTab(tab: "chat" | "jobs") {
  $("tab-chat").setAttribute("aria-selected", String(tab === "chat"));
  $("tab-jobs").setAttribute("aria-selected", String(tab === "jobs"));
  show("chat-panel", tab === "chat");
  show("jobs-panel", tab === "jobs");
  if (tab === "jobs") void loadJobs();
}
$("tab-chat").addEventListener("click", () => selectTab("chat"));
$("tab-jobs").addEventListener("click", () => selectTab("jobs"));

const jobElements = new Map<string, HTMLLIElement>();

function renderJob(job: WebJob) {
  const existing = jobElements.get(job.id);
  const item = existing ?? el("li", { className: "job" });
  item.dataset.state = job.state;
  const prompt = job.spec.kind === "inference" ? (job.spec.messages.at(-1)?.content ?? "") : job.spec.kind;
  const progress = el("progress");
  progress.max = 1;
  progress.value = job.state === "completed" ? 1 : job.progress;
  const parts: Node[] = [
    el(
      "div",
      { className: "job-head" },
      el("span", { className: `state state-${job.state}`, text: job.state }),
      el("span", { className: "job-prompt", text: prompt, title: job.id }),
      el("span", {
        className: "muted small",
        text: `${job.priority} · attempt ${job.attempts}/${job.maxAttempts}`,
      }),
    ),
  ];
  if (!job.final) parts.push(progress);
  if (job.result?.kind === "inference") {
    parts.push(
      el("div", { className: "job-result", text: job.result.text }),
      el("div", {
        className: "muted small",
        text: `${job.result.usage.completionTokens} tokens · cost $${job.result.costUsd.toFixed(6)} · ${job.result.model}`,
      }),
    );
  }
  if (job.error) {
    parts.push(el("div", { className: "job-error", text: `${job.error.code}: ${job.error.message}` }));
  }
  if (job.state === "dead-lettered" || job.state === "failed") {
    const retry = el("button", { className: "ghost", text: "Retry" });
    retry.type = "button";
    retry.addEventListener("click", async () => {
      try {
        watchJob(await trpc.jobs.retry.mutate({ id: job.id }));
      } catch (error) {
        showError(describeBffError(error));
      }
    });
    parts.push(retry);
  }
  if (!job.final) {
    const cancel = el("button", { className: "ghost", text: "Cancel" });
    cancel.type = "button";
    cancel.addEventListener("click", async () => {
      try {
        renderJob(await trpc.jobs.cancel.mutate({ id: job.id }));
      } catch (error) {
        showError(describeBffError(error));
      }
    });
    parts.push(cancel);
  }
  item.replaceChildren(...parts);
  if (!existing) {
    jobElements.set(job.id, item);
    $("job-list").prepend(item);
  }
  show("jobs-empty", jobElements.size === 0);
}

/** Follows a job live until it reaches a final state. */
function watchJob(job: WebJob) {
  renderJob(job);
  if (job.final || state.watches.has(job.id)) return;
  const subscription = trpc.jobs.watch.subscribe(
    { id: job.id },
    {
      onData: renderJob,
      onError(error) {
        state.watches.delete(job.id);
        showError(describeBffError(error));
      },
      onComplete: () => state.watches.delete(job.id),
    },
  );
  state.watches.set(job.id, subscription);
}

async function loadJobs() {
  $("refresh-jobs").textContent = "Loading…";
  try {
    const { jobs } = await trpc.jobs.list.query({ state: state.jobFilter || undefined, pageSize: 50 });
    jobElements.clear();
    $("job-list").replaceChildren();
    for (const job of [...jobs].reverse()) watchJob(job);
    show("jobs-empty", jobs.length === 0);
  } catch (error) {
    showError(describeBffError(error));
  } finally {
    $("refresh-jobs").textContent = "Refresh";
  }
}
$("refresh-jobs").addEventListener("click", () => void loadJobs());
for (const chip of document.querySelectorAll<HTMLButtonElement>(".chip")) {
  chip.addEventListener("click", () => {
    state.jobFilter = (chip.dataset.state ?? "") as typeof state.jobFilter;
    for (const other of document.querySelectorAll(".chip")) {
      other.setAttribute("aria-pressed", String(other === chip));
    }
    void loadJobs();
  });
}

$("job-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  $("job-error").textContent = "";
  const prompt = textarea("job-prompt").value.trim();
  if (!prompt) {
    $("job-error").textContent = "Write a prompt.";
    return;
  }
  button("submit-job").disabled = true;
  try {
    const { job } = await trpc.jobs.submit.mutate({
      spec: {
        kind: "inference",
        model: select("model").value,
        messages: [{ role: "user", content: prompt }],
        maxTokens: Number(input("job-max-tokens").value),
      },
      priority: select("job-priority").value as "high" | "medium" | "low",
    });
    textarea("job-prompt").value = "";
    watchJob(job);
  } catch (error) {
    const described = describeBffError(error);
    $("job-error").textContent = described.fieldErrors.length
      ? described.fieldErrors.map((field) => `${field.path}: ${field.message}`).join("; ")
      : messageOf(described);
  } finally {
    button("submit-job").disabled = false;
  }
});

window.addEventListener("offline", () => setConnection("lost"));
window.addEventListener("online", () => setConnection("ok"));

void start();
