import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { captureLines } from "./__fixtures__/capture-lines.js";
import { createLogger } from "./create-logger.js";
import { logRequestLine, type RequestLineFields } from "./log-request-line.js";

const apiKey = "noa_AbCdEf1234_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

/** A line with its time left out (the two lines compared are written a moment apart). */
const timeless = (line: string | undefined) => line?.replace(/,"time":\d+/, "");

const requestFields = (): RequestLineFields => ({
  correlationId: "dc42da89-6f91-4971-8c92-c061d550f22c",
  method: "POST",
  route: "/v1/chat/completions",
  status: 200,
  ms: 1.3,
  model: 'say "hi"\n',
  cached: false,
  attempts: undefined,
  promptTokens: 5,
  cost: Number.NaN,
  route2: "/v1/chat/completions",
});

describe("logRequestLine", () => {
  it("writes the line logger.info writes, byte for byte but the time, also for a child logger", () => {
    const { lines, destination } = captureLines();
    const logger = createLogger({ service: "rpc-server", env: "test", destination });
    const child = logger.child({ component: "rest" });
    for (const log of [logger, child]) {
      log.info(requestFields(), "rest");
      logRequestLine(log, requestFields(), "rest");
    }
    expect(lines).toHaveLength(4);
    expect(timeless(lines[1])).toBe(timeless(lines[0]));
    expect(timeless(lines[3])).toBe(timeless(lines[2]));
    expect(JSON.parse(lines[3] ?? "{}")).toMatchObject({
      level: 30,
      service: "rpc-server",
      env: "test",
      component: "rest",
      correlationId: "dc42da89-6f91-4971-8c92-c061d550f22c",
      status: 200,
      model: 'say "hi"\n',
      cached: false,
      msg: "rest",
    });
    expect(JSON.parse(lines[3] ?? "{}")).not.toHaveProperty("attempts");
    expect(JSON.parse(lines[3] ?? "{}").time).toBeGreaterThan(Date.now() - 60_000);
  });

  it("never writes an API key, an e-mail address or a card number, and replaces fields named like secrets", () => {
    const { lines, destination } = captureLines();
    const logger = createLogger({ service: "rpc-server", env: "test", destination });
    logRequestLine(
      logger,
      {
        correlationId: `caller-${apiKey}`,
        model: "jane.doe@example.com",
        note: "card 4111 1111 1111 1111",
        apiKey: "anything",
        token: "t0ken",
      },
      `for jane.doe@example.com`,
    );
    const written = lines.join("\n");
    for (const secret of [apiKey, "jane.doe@example.com", "4111 1111 1111 1111", "anything", "t0ken"]) {
      expect(written).not.toContain(secret);
    }
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      correlationId: "caller-[redacted:key]",
      model: "[redacted:email]",
      note: "card [redacted:card]",
      apiKey: "[redacted]",
      token: "[redacted]",
      msg: "for [redacted:email]",
    });
  });

  it("masks a value every time it comes, and writes values that came before the same way", () => {
    const { lines, destination } = captureLines();
    const logger = createLogger({ service: "rpc-server", env: "test", destination });
    for (let line = 0; line < 3; line++) {
      logRequestLine(logger, { correlationId: `c-${apiKey}`, route: "/v1/models", model: "m" }, "rest");
    }
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(JSON.parse(line)).toMatchObject({
        correlationId: "c-[redacted:key]",
        route: "/v1/models",
        model: "m",
      });
    }
  });

  it("writes each line's own values when a field's values keep changing, as a request's id does", () => {
    const { lines, destination } = captureLines();
    const logger = createLogger({ service: "rpc-server", env: "test", destination });
    const ids = Array.from({ length: 200 }, (_, index) => `id-${index}`);
    for (const id of [...ids, ...ids]) {
      logRequestLine(
        logger,
        { requestId: id, route: "/v1/models", card: `${id} 4111 1111 1111 1111` },
        "rest",
      );
    }
    expect(lines.map((line) => JSON.parse(line).requestId)).toEqual([...ids, ...ids]);
    for (const line of lines) {
      expect(JSON.parse(line)).toMatchObject({ route: "/v1/models" });
      expect(line).not.toContain("4111");
    }
  });

  it("writes nothing when info is not logged", () => {
    const { lines, destination } = captureLines();
    logRequestLine(createLogger({ service: "s", level: "warn", destination }), requestFields(), "rest");
    expect(lines).toEqual([]);
  });

  it("goes through logger.info for a logger it cannot reproduce (a mixin)", () => {
    const { lines, destination } = captureLines();
    const logger = pino({ mixin: () => ({ mixed: true }) }, destination);
    logRequestLine(logger, { status: 200 }, "rest");
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ mixed: true, status: 200, msg: "rest" });
  });
});
