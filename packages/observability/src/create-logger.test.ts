import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { captureLines } from "./__fixtures__/capture-lines.js";
import { createLogger } from "./create-logger.js";
import { secretsFromEnv } from "./secrets-from-env.js";

const apiKey = "noa_AbCdEf1234_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

describe("createLogger", () => {
  it("writes JSON lines with service, env and the fields given", () => {
    const { lines, destination } = captureLines();
    const logger = createLogger({ service: "rpc-server", env: "test", destination });
    logger.info({ correlationId: "c-1", status: 200, promptTokens: 5 }, "rest");
    const line = JSON.parse(lines[0] ?? "{}");
    expect(line).toMatchObject({ service: "rpc-server", env: "test", correlationId: "c-1", status: 200 });
    expect(line.promptTokens).toBe(5);
    expect(line.msg).toBe("rest");
  });

  it("never writes an API key, an e-mail address or a card number, in fields, nested objects, errors or the message", () => {
    const { lines, destination } = captureLines();
    const logger = createLogger({ service: "rpc-server", env: "test", destination });
    logger.info(
      {
        headers: { authorization: `Bearer ${apiKey}`, "x-api-key": apiKey },
        user: { email: "jane.doe@example.com", password: "hunter2" },
        note: "card 4111 1111 1111 1111 from jane.doe@example.com",
        err: new Error(`upstream refused ${apiKey} for jane.doe@example.com`),
        webhookSecret: "whsec_0123456789",
      },
      `request from jane.doe@example.com with ${apiKey}`,
    );
    logger.warn(`paid with 4111-1111-1111-1111`);
    const written = lines.join("\n");
    for (const secret of [
      apiKey,
      "jane.doe@example.com",
      "4111 1111 1111 1111",
      "4111-1111-1111-1111",
      "hunter2",
      "whsec_0123456789",
    ]) {
      expect(written).not.toContain(secret);
    }
    const line = JSON.parse(lines[0] ?? "{}");
    expect(line.headers.authorization).toBe("[redacted]");
    expect(line.err.message).toBe("upstream refused [redacted:key] for [redacted:email]");
    expect(line.err.type).toBe("Error");
    expect(line.msg).toBe("request from [redacted:email] with [redacted:key]");
  });
});

describe("createLogger with the environment's secrets", () => {
  it("never writes a configured credential of a shape no pattern knows, in the message, fields or an error's causes", () => {
    const env = {
      OPENAI_API_KEY: "UPSTREAMSECRET-9f8e7d6c5b4a",
      ANTHROPIC_API_KEY: "gsk_live_51Hx0aZbq",
      NOA_WEBHOOK_SECRET: "0123456789abcdef0123456789abcdef",
      DATABASE_URL: "postgresql://noa:Pg-Pass%2Fw0rd@db:5432/noa",
      NOA_LOG_LEVEL: "info",
      SHORT_TOKEN: "abc",
    };
    const secrets = secretsFromEnv(env);
    expect(secrets.sort()).toEqual(
      [
        "0123456789abcdef0123456789abcdef",
        "Pg-Pass/w0rd",
        "UPSTREAMSECRET-9f8e7d6c5b4a",
        "gsk_live_51Hx0aZbq",
      ].sort(),
    );
    const { lines, destination } = captureLines();
    const logger = createLogger({ service: "rpc-server", env: "test", destination, secrets });
    // What an OpenAI-compatible upstream says of a wrong key, as the SDK's error under the provider's.
    const upstream = new Error("401 Incorrect API key provided: UPSTREAMSECRET-9f8e7d6c5b4a. See your keys");
    logger.error(
      {
        err: new Error("model provider refused the request", { cause: upstream }),
        detail: { body: "connecting as noa:Pg-Pass/w0rd failed" },
      },
      "request failed for gsk_live_51Hx0aZbq",
    );
    const written = lines.join("\n");
    for (const secret of secrets) expect(written).not.toContain(secret);
    const line = JSON.parse(lines[0] ?? "{}");
    expect(line.err.cause.message).toBe("401 Incorrect API key provided: [redacted:secret]. See your keys");
    expect(line.msg).toBe("request failed for [redacted:secret]");
  });
});

describe("createLogger's file output", () => {
  const fixture = fileURLToPath(new URL("./__fixtures__/log-then-exit.ts", import.meta.url));

  const run = (target: string, ending: string) =>
    new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "@noa/runtime/register", fixture, target, ending],
        { cwd: fileURLToPath(new URL("..", import.meta.url)) },
        (_error, stdout) => resolve(stdout),
      );
    });
  const expectBoth = (text: string) => {
    const lines = text.split("\n").filter(Boolean);
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(["first", "last words"]);
    expect(JSON.parse(lines[1] ?? "{}")).toMatchObject({ service: "test", n: 2 });
  };

  it.each(["exit", "throw", "return"])(
    "has every line, in order, when the process ends (%s) in the turn that logged them: to a file",
    async (ending) => {
      const file = join(await mkdtemp(join(tmpdir(), "noa-log-")), "app.log");
      await run(file, ending);
      expectBoth(await readFile(file, "utf8"));
    },
  );

  it("writes a line within a moment while the process goes on", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "noa-log-")), "app.log");
    const logger = createLogger({ service: "test", env: "test", file });
    logger.info({ n: 1 }, "still running");
    let text = "";
    for (let tries = 0; tries < 100 && !text.includes("still running"); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      text = await readFile(file, "utf8");
    }
    expect(JSON.parse(text)).toMatchObject({ msg: "still running", n: 1 });
  });

  it.each(["exit", "throw", "return"])("and to standard output (%s)", async (ending) => {
    expectBoth(await run("-", ending));
  });
});
