import { createInterface } from "node:readline";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ChatMessage, ChatRequest, ChatResult, NoaClient } from "@noa/client";
import { type Command, Option } from "commander";
import pc from "picocolors";
import type { CliContext } from "../cli-context.js";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { finiteNumber, int32Max, integerIn, uint32Max } from "../parse-number.js";
import { reportError } from "../report-error.js";

interface ChatOptions {
  model?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

/** `noa chat [prompt]`: one streamed answer, or an interactive session that keeps the conversation. */
export function registerChat(program: Command, context: CliContext): void {
  program
    .command("chat")
    .description(
      "chat with a model: stream one answer to a prompt, or start an interactive session without one",
    )
    .argument("[prompt...]", 'the prompt (words are joined; "-" reads it from stdin); none starts a session')
    .addOption(
      new Option(
        "-m, --model <id>",
        "model id or alias (see `noa models ls`); without it, the server's `default` alias or first model (needs the models:read scope)",
      ).env("NOA_MODEL"),
    )
    .option("-s, --system <text>", "a system message that steers the answers")
    .option("--max-tokens <n>", "most tokens per answer", integerIn(1, int32Max))
    .option("--temperature <t>", "sampling temperature, 0 to 2 (0 is greedy)", finiteNumber)
    .option("--top-p <p>", "nucleus sampling mass, above 0 up to 1", finiteNumber)
    .option("--seed <n>", "sampling seed, for repeatable answers", integerIn(0, uint32Max))
    .addHelpText(
      "after",
      "\nIn a session, Ctrl-C stops the answer being generated (the server stops too) and keeps the session;\nCtrl-D, /exit or Ctrl-C twice at the prompt leave it, /reset forgets the conversation.",
    )
    .action(async (words: string[], options: ChatOptions) => {
      const client = context.client();
      // Only leaving the prompt out starts a session; one given, even empty, is a one-shot answer.
      const prompt = words.length > 0 ? await readPrompt(words, context.stdin) : undefined;
      const model = options.model ?? (await defaultModel(client));
      const settings = { ...options, model };
      process.exitCode =
        prompt === undefined
          ? await chatSession(context, client, settings)
          : await chatOnce(context, client, settings, prompt);
    });
}

/** The prompt from the words given, or from stdin for "-"; an empty one is a usage error (not a session). */
async function readPrompt(words: string[], stdin: NodeJS.ReadableStream): Promise<string> {
  const fromStdin = words.length === 1 && words[0] === "-";
  const prompt = fromStdin ? await readAll(stdin) : words.join(" ");
  if (prompt.trim() === "") {
    throw new CliError(
      `the prompt ${fromStdin ? "read from stdin (-) " : ""}is empty: give one, or none at all for an interactive session`,
      ExitCode.usage,
    );
  }
  return prompt;
}

/** The model used without -m/NOA_MODEL: the route alias `default` if the server has one, else its first model. */
async function defaultModel(client: NoaClient): Promise<string> {
  const { models } = await client.models.listModels({}).catch((error: unknown) => {
    // The usual app key has the inference scope only: it may chat, but not list models to pick one.
    if (error instanceof ConnectError && error.code === Code.PermissionDenied) {
      throw new CliError(
        "no model given: pass -m <model> or set NOA_MODEL (choosing the server's default model needs a key with the models:read scope)",
        ExitCode.usage,
      );
    }
    throw error;
  });
  const chosen = models.find((model) => model.id === "default") ?? models[0];
  if (!chosen) throw new ConnectError("the server offers no models", Code.NotFound);
  return chosen.id;
}

function baseMessages(options: ChatOptions): ChatMessage[] {
  return options.system ? [{ role: "system", content: options.system }] : [];
}

/** One answer for a prompt; Ctrl-C cancels it and exits 130. */
async function chatOnce(
  context: CliContext,
  client: NoaClient,
  options: ChatOptions & { model: string },
  prompt: string,
): Promise<number> {
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once("SIGINT", onInterrupt);
  try {
    const outcome = await streamAnswer(
      context,
      client,
      options,
      [...baseMessages(options), { role: "user", content: prompt }],
      abort.signal,
    );
    return outcome.cancelled ? ExitCode.interrupted : ExitCode.ok;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

/** A session: each line a user turn, answers streamed; the conversation is kept until /reset. */
async function chatSession(
  context: CliContext,
  client: NoaClient,
  options: ChatOptions & { model: string },
): Promise<number> {
  const { stdin, stdout, stderr } = context;
  const json = context.options().json;
  const terminal = Boolean(stdin.isTTY && stdout.isTTY);
  const rl = createInterface({ input: stdin, output: stdout, terminal, prompt: json ? "" : pc.bold("> ") });
  if (!json) {
    stderr.write(
      pc.dim(
        `Chatting with ${options.model}. Ctrl-C stops an answer; Ctrl-D or /exit leaves; /reset starts over.\n`,
      ),
    );
  }
  let messages = baseMessages(options);
  let generating: AbortController | undefined;
  let interruptsAtPrompt = 0;
  const onInterrupt = () => {
    if (generating) {
      generating.abort();
      return;
    }
    if (terminal && rl.line) {
      // Like a shell: Ctrl-C on a half-typed line discards it (Ctrl-E, Ctrl-U: end of line, delete to start).
      rl.write(null, { ctrl: true, name: "e" });
      rl.write(null, { ctrl: true, name: "u" });
      return;
    }
    if (++interruptsAtPrompt === 2) {
      rl.close();
      return;
    }
    stdout.write(pc.dim("\n(press Ctrl-C again, Ctrl-D or type /exit to leave)\n"));
    rl.prompt();
  };
  rl.on("SIGINT", onInterrupt);
  process.on("SIGINT", onInterrupt);
  const lines = rl[Symbol.asyncIterator]();
  try {
    for (;;) {
      rl.prompt();
      const next = await lines.next();
      if (next.done) break;
      interruptsAtPrompt = 0;
      const line = next.value.trim();
      if (line === "") continue;
      if (line === "/exit" || line === "/quit") break;
      if (line === "/reset") {
        messages = baseMessages(options);
        stderr.write(pc.dim("(conversation cleared)\n"));
        continue;
      }
      if (line === "/help") {
        stderr.write(pc.dim("/reset forgets the conversation, /exit leaves; Ctrl-C stops an answer.\n"));
        continue;
      }
      const turn: ChatMessage = { role: "user", content: line };
      generating = new AbortController();
      try {
        const outcome = await streamAnswer(context, client, options, [...messages, turn], generating.signal);
        // A cancelled answer stays in the conversation as far as it got: it is what the user saw. One
        // cancelled before its first token is forgotten with its question.
        if (outcome.text) messages = [...messages, turn, { role: "assistant", content: outcome.text }];
      } catch (error) {
        // A failed turn is reported and forgotten; the session goes on.
        reportError(error, stderr, context.options().url);
      } finally {
        generating = undefined;
      }
    }
  } finally {
    process.off("SIGINT", onInterrupt);
    rl.close();
  }
  if (!json) stdout.write("\n");
  return ExitCode.ok;
}

/**
 * Streams one answer to stdout as tokens arrive and then its usage and cost to stderr (with --json:
 * one JSON object on stdout instead). Aborting `signal` cancels the call; the partial text is returned.
 */
async function streamAnswer(
  context: CliContext,
  client: NoaClient,
  options: ChatOptions & { model: string },
  messages: ChatMessage[],
  signal: AbortSignal,
): Promise<{ text: string; cancelled: boolean }> {
  const { stdout, stderr } = context;
  const json = context.options().json;
  const request: ChatRequest = {
    model: options.model,
    messages,
    maxTokens: options.maxTokens,
    temperature: options.temperature,
    topP: options.topP,
    seed: options.seed,
  };
  const started = performance.now();
  let text = "";
  let id = "";
  let result: ChatResult | undefined;
  try {
    for await (const part of client.streamChat(request, { signal })) {
      id = part.id;
      if (part.type === "text-delta") {
        text += part.text;
        if (!json) stdout.write(part.text);
      } else {
        result = { text, ...part };
      }
    }
  } catch (error) {
    if (!(signal.aborted && ConnectError.from(error).code === Code.Canceled)) throw error;
  }
  const latencyMs = Math.round(performance.now() - started);
  if (!result) {
    // Cancelled: the server stops generating and records the tokens it delivered as a cancelled call.
    if (json) stdout.write(`${JSON.stringify({ id, text, finishReason: "cancelled", latencyMs })}\n`);
    else
      stderr.write(
        `\n${pc.yellow("^C cancelled")} ${pc.dim(`[${id ? `id ${id}` : "before the first token"}]`)}\n`,
      );
    return { text, cancelled: true };
  }
  if (json) {
    const { type: _type, ...fields } = result as ChatResult & { type?: string };
    stdout.write(`${JSON.stringify({ ...fields, latencyMs })}\n`);
  } else {
    const { usage } = result;
    const facts = [
      result.model,
      `${usage.promptTokens} prompt + ${usage.completionTokens} completion tokens`,
      `$${result.costUsd.toFixed(6)}`,
      result.cached ? `cached (${result.cacheTier})` : `${(latencyMs / 1000).toFixed(1)} s`,
      result.finishReason,
      `id ${result.id}`,
    ];
    stdout.write(text.endsWith("\n") ? "" : "\n");
    stderr.write(pc.dim(`[${facts.join(" · ")}]\n`));
  }
  return { text, cancelled: false };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text.trim();
}
