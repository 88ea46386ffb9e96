import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { spawn as spawnPty } from "@lydell/node-pty";
import { type SpawnedNoaServer, spawnNoaServer } from "@noa/client/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// The real `noa` binary (bin/noa.js, as `pnpm exec noa` runs it) against the real rpc-server process.
const bin = fileURLToPath(new URL("../bin/noa.js", import.meta.url));
let server: SpawnedNoaServer;
beforeAll(async () => {
  server = await spawnNoaServer({ worker: true });
});
afterAll(() => server?.close());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** How many separate reads of stdout carried text, and how many of them came before the exit. */
  stdoutChunks: number;
}

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: "1",
    NOA_URL: server.baseUrl,
    NOA_API_KEY: server.adminKey,
    ...extra,
  };
}

function noa(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    input?: string;
    onStdout?: (text: string, kill: () => void) => void;
  } = {},
): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: env(options.env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let stdoutChunks = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    stdoutChunks++;
    options.onStdout?.(stdout, () => child.kill("SIGINT"));
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input ?? "");
  return new Promise((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr, stdoutChunks })),
  );
}

const finishedCall = (id: string) => (line: Record<string, unknown>) =>
  line.msg === "rpc" && line.correlationId === id;

describe("noa chat PROMPT", () => {
  it("streams the answer as it is generated, then shows usage and cost", async () => {
    const run = await noa(["chat", "-m", server.modelId, "--max-tokens", "200", "Tell", "me", "a", "story"]);
    expect(run.stderr).toMatch(
      /\[llama-cpp\/llama-2-tiny-random · \d+ prompt \+ 200 completion tokens · \$0\.000000 · .* · length · id [\w-]+\]/,
    );
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).not.toBe("");
    // Token by token, not one write at the end.
    expect(run.stdoutChunks).toBeGreaterThan(5);
  });

  it("--json prints one parseable object with text, usage and cost", async () => {
    const run = await noa(["--json", "chat", "-m", server.modelId, "--max-tokens", "7", "Hello"]);
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({
      finishReason: "length",
      usage: { completionTokens: 7 },
      model: server.modelId,
      provider: "llama-cpp",
      costUsd: 0,
    });
    expect(answer.text).not.toBe("");
    expect(run.stderr).toBe("");
  });

  it("uses the server's model when none is given, and reads the prompt from stdin with -", async () => {
    const run = await noa(["chat", "--json", "--max-tokens", "3", "-"], { input: "Hello from a pipe\n" });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ model: server.modelId, usage: { completionTokens: 3 } });
  });

  it("Ctrl-C (SIGINT) stops the answer and exits 130", async () => {
    let interrupted = false;
    const run = await noa(["chat", "-m", server.modelId, "--max-tokens", "3000", "Go on"], {
      onStdout: (text, interrupt) => {
        if (!interrupted && text.length > 40) {
          interrupted = true;
          interrupt();
        }
      },
    });
    expect(run.code).toBe(130);
    const id = /\^C cancelled \[id ([\w-]+)\]/.exec(run.stderr)?.[1];
    expect(id, run.stderr).toBeDefined();
    // The answer stopped where Ctrl-C came, far short of 3,000 tokens.
    expect(run.stdout.length).toBeLessThan(3_000);
  });
});

describe("noa chat (a session)", () => {
  it("in a terminal: streams answers, Ctrl-C stops one without leaving, the conversation is kept", async () => {
    const terminal = spawnPty(process.execPath, [bin, "chat", "-m", server.modelId, "--max-tokens", "1500"], {
      cols: 200,
      rows: 50,
      env: env() as Record<string, string>,
    });
    let screen = "";
    terminal.onData((data) => {
      screen += data;
    });
    const exited = new Promise<number>((resolve) => terminal.onExit(({ exitCode }) => resolve(exitCode)));
    const seen = (pattern: RegExp, from = 0) =>
      vi.waitFor(() => {
        const match = pattern.exec(screen.slice(from));
        if (!match) throw new Error(`not on the screen yet: ${pattern}\n${screen.slice(from)}`);
        return match;
      });

    await seen(/> /);
    terminal.write("Tell me a very long story\r");
    const answerStart = screen.length;
    // Tokens appear while the answer is still being generated…
    await vi.waitFor(() => expect(screen.length - answerStart).toBeGreaterThan(60));
    expect(screen.slice(answerStart)).not.toContain("completion tokens");
    // …and Ctrl-C stops it: the server ends the call, the session stays.
    terminal.write("\x03");
    const [, cancelledId] = await seen(/\^C cancelled \[id ([\w-]+)\]/, answerStart);
    await server.waitForLog(finishedCall(cancelledId ?? ""), 20_000);
    const first = screen.length;
    await seen(/> /, first - 10);

    terminal.write("And then?\r");
    const [, promptTokens] = await seen(/(\d+) prompt \+ \d+ completion tokens/, first);
    // The second turn carried the first question and the partial answer: a much longer prompt.
    expect(Number(promptTokens)).toBeGreaterThan(30);

    // Ctrl-C at the prompt asks first; a second one leaves.
    const beforeLeaving = screen.length;
    terminal.write("\x03");
    await seen(/press Ctrl-C again, Ctrl-D or type \/exit to leave/, beforeLeaving);
    terminal.write("\x03");
    expect(await exited).toBe(0);
  });

  it("without a terminal: one answer per line on stdin, --json gives one object per answer", async () => {
    const run = await noa(["chat", "--json", "-m", server.modelId, "--max-tokens", "4"], {
      input: "Hello\nAnd again\n",
    });
    expect(run.code).toBe(0);
    const answers = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(answers).toHaveLength(2);
    expect(answers[1].usage.promptTokens).toBeGreaterThan(answers[0].usage.promptTokens);
  });
});

describe("noa models", () => {
  it("ls lists the served model; --json parses", async () => {
    const table = await noa(["models"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+PROVIDER\s+CONTEXT/);
    expect(table.stdout).toContain(server.modelId);
    const json = JSON.parse((await noa(["models", "ls", "--json"])).stdout);
    expect(json.models.map((model: { id: string }) => model.id)).toContain(server.modelId);
  });

  it.each(["connect", "grpc-web"])("works over --protocol %s too", async (protocol) => {
    const run = await noa(["--protocol", protocol, "models", "ls", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).models.length).toBeGreaterThan(0);
  });

  it("get shows one model; an unknown one exits 4 with the server's message and correlation id", async () => {
    const found = await noa(["models", "get", server.modelId]);
    expect(found.code).toBe(0);
    expect(found.stdout).toMatch(/provider\s+llama-cpp/);
    const missing = await noa(["models", "get", "llama-cpp/missing"]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/error: .*llama-cpp\/missing.*correlation id: [\w-]+/);
  });
});

describe("noa keys and noa usage", () => {
  it("creates a key shown once, lists it without the secret, reports usage, revokes it", async () => {
    const created = await noa([
      "keys",
      "create",
      "--name",
      "cli test",
      "--tenant",
      "acme",
      "--scope",
      "inference,models:read",
    ]);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^noa_\w+_\w+$/);
    expect(created.stderr).toContain("not shown again");

    const asAcme = { env: { NOA_API_KEY: key } };
    expect((await noa(["chat", "-m", server.modelId, "--max-tokens", "2", "Hi"], asAcme)).code).toBe(0);
    // Not an admin: key management is refused with exit code 3.
    const refused = await noa(["keys", "ls"], asAcme);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/error: .*\[permission_denied/);

    const listed = await noa(["keys", "ls", "--tenant", "acme"]);
    expect(listed.stdout).toContain("cli test");
    expect(listed.stdout).not.toContain(key.split("_").at(-1));
    const id =
      listed.stdout
        .split("\n")
        .find((line) => line.includes("cli test"))
        ?.split(/\s+/)[0] ?? "";

    await vi.waitFor(async () => {
      const usage = JSON.parse((await noa(["usage", "--json"], asAcme)).stdout);
      expect(Number(usage.total.requests)).toBe(1);
      expect(Number(usage.total.completionTokens)).toBe(2);
    });
    const table = await noa(["usage", "--tenant", "acme"]);
    expect(table.stdout).toMatch(/^DAY\s+KEY\s+MODEL/);
    expect(table.stdout).toMatch(/total\s+1\s+\d+\s+2\s+\$0\.000000/);

    const revoked = await noa(["keys", "revoke", id]);
    expect(revoked.code).toBe(0);
    const afterRevoke = await noa(["models"], asAcme);
    expect(afterRevoke.code).toBe(3);
    expect(afterRevoke.stderr).toMatch(/correlation id: [\w-]+/);
  });

  it("creates a key that expires (--expires), lists its expiry, and refuses one in the past", async () => {
    const create = [
      "keys",
      "create",
      "--name",
      "cli expiring",
      "--tenant",
      "cli-expiry",
      "--scope",
      "models:read",
    ];
    const before = Date.now();
    const created = await noa([...create, "--expires", "2h", "--json"]);
    expect(created.code).toBe(0);
    const response = JSON.parse(created.stdout);
    const expiresAt = Date.parse(response.apiKey.expireTime);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 7_200_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 7_200_000);
    expect((await noa(["models"], { env: { NOA_API_KEY: response.key } })).code).toBe(0);

    const listed = await noa(["keys", "ls", "--tenant", "cli-expiry"]);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+PREFIX\s+TENANT\s+SCOPES\s+CREATED\s+EXPIRES\s+LAST USED/);
    expect(listed.stdout).toContain(new Date(expiresAt).toISOString().replace("T", " ").slice(0, 19));

    const past = await noa([...create, "--expires", "2020-01-01T00:00:00Z"]);
    expect(past.stderr).toMatch(/error: expire_time must be in the future: got 2020-01-01T00:00:00\.000Z/);
    expect(past.code).toBe(2);
  });
});

describe("errors: a clear message and an exit code per kind", () => {
  it("a rate limit exits 5 and says when to retry", async () => {
    const slowKey = ["keys", "create", "--name", "slow", "--tenant", "acme", "--scope", "inference"];
    const created = await noa([...slowKey, "--burst", "1", "--rps", "0.01"]);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    const chat = ["chat", "-m", server.modelId, "--max-tokens", "1", "Hi"];
    expect((await noa(chat, { env: { NOA_API_KEY: key } })).code).toBe(0);
    const refused = await noa(chat, { env: { NOA_API_KEY: key } });
    expect(refused.stderr).toMatch(/error: .*\[resource_exhausted, retry after \d+ s\]/);
    expect(refused.code).toBe(5);
  });

  it("without -m, a key that may not list models is told to name one (-m or NOA_MODEL)", async () => {
    const created = await noa([
      "keys",
      "create",
      "--name",
      "app",
      "--tenant",
      "cli-no-model",
      "--scope",
      "inference",
    ]);
    expect(created.code).toBe(0);
    const asApp = { env: { NOA_API_KEY: created.stdout.trim() } };
    const refused = await noa(["chat", "--max-tokens", "1", "Hi"], asApp);
    expect(refused.stderr).toMatch(/^error: no model given: pass -m <model> or set NOA_MODEL/);
    expect(refused.stderr).not.toMatch(/permission_denied/);
    expect(refused.code).toBe(2);
    const named = await noa(["chat", "--max-tokens", "1", "Hi"], {
      env: { ...asApp.env, NOA_MODEL: server.modelId },
    });
    expect(named.code).toBe(0);
  });

  const newKey = ["keys", "create", "--name", "big", "--tenant", "cli-bounds", "--scope", "inference"];
  it.each<[string, string[], NodeJS.ProcessEnv, number, RegExp]>([
    ["unknown option", ["chat", "--bogus"], {}, 2, /unknown option '--bogus'/],
    ["unknown command", ["frobnicate"], {}, 2, /unknown command 'frobnicate'/],
    ["bad option value", ["chat", "--max-tokens", "zero", "hi"], {}, 2, /--max-tokens.*whole number/],
    // Integer options are bounded by their proto fields (int32 max_tokens, uint32 rate limits).
    [
      "chat --max-tokens beyond int32",
      ["chat", "--max-tokens", "99999999999", "hi"],
      {},
      2,
      /'--max-tokens <n>' argument '99999999999' is invalid\. expected a whole number from 1 to 2147483647/,
    ],
    [
      "jobs submit --max-tokens beyond int32",
      ["jobs", "submit", "-m", "default", "--max-tokens", "2147483648", "hi"],
      {},
      2,
      /--max-tokens.*whole number from 1 to 2147483647/,
    ],
    [
      "keys create --burst beyond uint32",
      [...newKey, "--burst", "4294967296"],
      {},
      2,
      /--burst.*from 1 to 4294967295/,
    ],
    [
      "keys create --expires that is no duration or time",
      [...newKey, "--expires", "soon"],
      {},
      2,
      /'--expires <when>' argument 'soon' is invalid\. expected a duration from now such as 90m, 12h or 30d/,
    ],
    [
      "keys create --tpm beyond uint32",
      [...newKey, "--tpm", "4294967296"],
      {},
      2,
      /--tpm.*from 0 to 4294967295/,
    ],
    ["an empty prompt argument", ["chat", "--max-tokens", "2", ""], {}, 2, /error: the prompt is empty/],
    [
      "an empty prompt on stdin",
      ["chat", "--max-tokens", "2", "-"],
      {},
      2,
      /error: the prompt read from stdin \(-\) is empty/,
    ],
    ["input the server refuses", ["chat", "--temperature", "9", "hi"], {}, 2, /temperature.*correlation id/],
    ["no API key", ["models"], { NOA_API_KEY: "" }, 3, /no API key: pass --api-key or set NOA_API_KEY/],
    ["a wrong API key", ["models"], { NOA_API_KEY: "noa_nope_nope" }, 3, /unauthenticated/],
    ["no server", ["models"], { NOA_URL: "http://127.0.0.1:1" }, 1, /ECONNREFUSED[\s\S]*is NOA running at/],
    ["a bad --url", ["models", "--url", "not a url"], {}, 2, /--url must be a URL/],
  ])("%s", async (_name, args, extraEnv, code, message) => {
    const run = await noa(args, { env: extraEnv });
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(code);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack traces
  });
});

describe("noa jobs (rpc-server and a job worker)", () => {
  it("submit --watch shows live progress in a terminal and prints the answer; get shows the result", async () => {
    const terminal = spawnPty(
      process.execPath,
      [bin, "jobs", "submit", "-m", server.modelId, "--max-tokens", "200", "--watch", "Write a poem"],
      { cols: 120, rows: 20, env: env() as Record<string, string> },
    );
    let screen = "";
    terminal.onData((data) => {
      screen += data;
    });
    const code = await new Promise<number>((resolve) => terminal.onExit(({ exitCode }) => resolve(exitCode)));
    expect(code, screen).toBe(0);
    const id = /^([\w-]{8,})\r?$/m.exec(screen)?.[1] ?? "";
    expect(id).not.toBe("");
    // The progress bar, redrawn in place until the job completed.
    expect(screen).toMatch(/[█░]+ \d+% \| active/);
    expect(screen).toMatch(/█+ 100% \| completed \| attempt 1\/\d+/);

    const got = JSON.parse((await noa(["jobs", "get", id, "--json"])).stdout);
    expect(got.job).toMatchObject({ id, state: "JOB_STATE_COMPLETED", progress: 1 });
    expect(got.job.result.inference.usage.completionTokens).toBe(200);
    expect(screen).toContain(got.job.result.inference.text.slice(0, 20));
    const listed = await noa(["jobs", "ls", "--state", "completed"]);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+completed\\s+medium\\s+100%`));
  });

  it("cancel stops a running job and ends its watch; retrying a cancelled job is refused", async () => {
    const submitted = await noa([
      "jobs",
      "submit",
      "-m",
      server.modelId,
      "--max-tokens",
      "100000",
      "--priority",
      "low",
      "Go on",
    ]);
    expect(submitted.code).toBe(0);
    const id = submitted.stdout.trim();
    let states = "";
    const watching = noa(["jobs", "watch", id]);
    const watched = watching.then((run) => {
      states = run.stderr;
      return run;
    });
    // Wait until the worker runs it, then cancel from another terminal.
    await vi.waitFor(async () => {
      const job = JSON.parse((await noa(["jobs", "get", id, "--json"])).stdout).job;
      expect(job.state).toBe("JOB_STATE_ACTIVE");
    });
    const cancelled = await noa(["jobs", "cancel", id]);
    expect(cancelled.code).toBe(0);
    const run = await watched;
    expect(states).toMatch(/active \d+% \(attempt 1\/\d+\)/);
    expect(run.stderr).toMatch(new RegExp(`error: job ${id} cancelled`));
    expect(run.code).toBe(1);
    const job = JSON.parse((await noa(["jobs", "get", id, "--json"])).stdout).job;
    expect(job.state).toBe("JOB_STATE_CANCELLED");
    expect(job.progress).toBeLessThan(1);

    const retried = await noa(["jobs", "retry", id]);
    expect(retried.stderr).toMatch(/only dead-lettered or failed jobs can be retried.*correlation id/);
    expect(retried.code).toBe(2);
    const missing = await noa(["jobs", "get", "no-such-job"]);
    expect(missing.stderr).toMatch(/does not exist.*correlation id/);
    expect(missing.code).toBe(4);
  });
});
