import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { OPENAI_LOOPBACK_API_KEY, startOpenAILoopbackServer } from "@noa/providers/testing";

/** One chat completion request as the upstream saw it, and how it ended. */
export interface UpstreamCall {
  model: string;
  /** The messages' text, joined: tests put a tag in it to tell their requests apart. */
  prompt: string;
  /**
   * `failed`: answered 500 (a failing model); `held`: waiting for resume(); `forwarded`: answer in
   * progress; `completed`: the whole answer was handed to the caller; `cut`: the caller went away first.
   */
  state: "failed" | "held" | "forwarded" | "completed" | "cut";
}

/** An OpenAI-wire upstream shared by every replica and worker, with a record of each call. */
export interface ScaleOutUpstream {
  /** For OPENAI_BASE_URL. */
  baseURL: string;
  apiKey: string;
  calls: UpstreamCall[];
  /** Holds every answerable request until resume() (failing models still fail at once). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * The OpenAI loopback server (the real wire format, `@noa/providers/testing`) serving `models`, behind a
 * front that answers OpenAI's 500 to every request for a model in `failing` (a provider that is down for
 * that model), records every call, and can hold requests at a gate so a test knows where each in-flight
 * call stands when it kills a process.
 */
export async function startScaleOutUpstream(options: {
  models: string[];
  failing: string[];
}): Promise<ScaleOutUpstream> {
  const loopback = await startOpenAILoopbackServer({ models: options.models, chunkDelayMs: 1 });
  const target = new URL(loopback.baseURL);
  const failing = new Set(options.failing);
  const calls: UpstreamCall[] = [];
  const waiting = new Set<() => void>();
  let paused = false;

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const { model, prompt } = readChatRequest(body);
      const call: UpstreamCall = { model, prompt, state: "forwarded" };
      if (model !== "") calls.push(call);
      if (failing.has(model)) {
        call.state = "failed";
        const error = {
          message: "The server had an error while processing your request. Sorry about that!",
          type: "server_error",
          param: null,
          code: null,
        };
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error }));
        return;
      }
      let callerGone = false;
      res.once("close", () => {
        callerGone = true;
        if (!res.writableFinished && call.state !== "completed") call.state = "cut";
      });
      if (paused) {
        call.state = "held";
        await new Promise<void>((resolve) => {
          const release = () => {
            waiting.delete(release);
            resolve();
          };
          waiting.add(release);
          res.once("close", release);
        });
        if (callerGone) return;
        call.state = "forwarded";
      }
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      res.once("close", () => upstream.destroy());
      res.once("finish", () => {
        call.state = "completed";
      });
      upstream.end(body);
    })().catch(() => res.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: OPENAI_LOOPBACK_API_KEY,
    calls,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const release of [...waiting]) release();
    },
    async close() {
      paused = false;
      for (const release of [...waiting]) release();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await loopback.close();
    },
  };
}

function readChatRequest(body: Buffer): { model: string; prompt: string } {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as {
      model?: unknown;
      messages?: Array<{ content?: unknown }>;
    };
    const prompt = (parsed.messages ?? [])
      .map((message) => (typeof message.content === "string" ? message.content : JSON.stringify(message)))
      .join("\n");
    return { model: typeof parsed.model === "string" ? parsed.model : "", prompt };
  } catch {
    return { model: "", prompt: "" };
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
