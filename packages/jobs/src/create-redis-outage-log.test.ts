import { EventEmitter } from "node:events";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { createRedisOutageLog } from "./create-redis-outage-log.js";

type Line = { level: string; msg: string | undefined } & Record<string, unknown>;

function capture() {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object | string, msg?: string) =>
    lines.push(typeof fields === "string" ? { level, msg: fields } : { level, msg, ...fields });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

/** The error Node gives for a TCP connection to a port nothing listens on (port 1 on loopback). */
function refusal(): Promise<Error> {
  return new Promise((resolve) => connect(1, "127.0.0.1").on("error", resolve));
}

describe("createRedisOutageLog", () => {
  it("tells an outage in one line (address and code, no stack), reminds once a minute with how long, and tells when Redis is back", async () => {
    const { lines, logger } = capture();
    let clock = 1_000_000;
    const outage = createRedisOutageLog({ logger, address: "127.0.0.1:6390", now: () => clock });
    const refused = await refusal();

    // A reconnection attempt every 2 s for a minute, from several connections.
    for (let second = 0; second < 60; second += 2) {
      clock = 1_000_000 + second * 1000;
      for (let connection = 0; connection < 3; connection++) expect(outage.failed(refused)).toBe(true);
    }
    expect(outage.down).toBe(true);
    expect(lines).toEqual([
      {
        level: "error",
        redis: "127.0.0.1:6390",
        code: "ECONNREFUSED",
        msg: "Redis at 127.0.0.1:6390 is unreachable (ECONNREFUSED): jobs wait until it is back",
      },
    ]);

    clock = 1_000_000 + 61_000;
    outage.failed(refused);
    outage.failed(refused);
    clock = 1_000_000 + 90_000;
    outage.failed(refused);
    clock = 1_000_000 + 95_000;
    outage.ready();
    outage.ready();
    expect(lines.slice(1)).toEqual([
      {
        level: "warn",
        redis: "127.0.0.1:6390",
        code: "ECONNREFUSED",
        downForSeconds: 61,
        msg: "Redis at 127.0.0.1:6390 is still unreachable after 1 min 1 s (ECONNREFUSED): jobs wait until it is back",
      },
      {
        level: "info",
        redis: "127.0.0.1:6390",
        downForSeconds: 95,
        msg: "Redis at 127.0.0.1:6390 is reachable again after 1 min 35 s",
      },
    ]);
    expect(outage.down).toBe(false);

    // The next outage is told again.
    outage.failed(refused);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ level: "error", code: "ECONNREFUSED" });
  });

  it("leaves other errors to the caller, and a watched connection logs them once until it is ready again", () => {
    const { lines, logger } = capture();
    const outage = createRedisOutageLog({ logger, address: "redis.internal:6379" });
    const scriptError = new Error("ERR Error running script");
    expect(outage.failed(scriptError)).toBe(false);
    expect(lines).toEqual([]);

    const connection = new EventEmitter();
    outage.watch(connection, "queue");
    const wrongPassword = new Error("WRONGPASS invalid username-password pair or user is disabled.");
    connection.emit("error", wrongPassword);
    connection.emit("error", wrongPassword);
    expect(lines).toEqual([
      { level: "warn", err: wrongPassword, connection: "queue", msg: "Redis connection error" },
    ]);
    connection.emit("ready");
    connection.emit("error", wrongPassword);
    expect(lines).toHaveLength(2);
    expect(outage.down).toBe(false);
  });
});

describe("createRedisOutageLog and a refused password", () => {
  it("tells Redis's refusal of the credentials once, with its code, as ioredis retries it", async () => {
    const { lines, logger } = capture();
    const outage = createRedisOutageLog({ logger, address: "127.0.0.1:6391" });
    // What ioredis emits when Redis answers its AUTH with an error reply (redis-errors' ReplyError).
    const wrongPass = Object.assign(
      new Error("WRONGPASS invalid username-password pair or user is disabled."),
      {
        name: "ReplyError",
        command: { name: "auth", args: ["***"] },
      },
    );
    for (let attempt = 0; attempt < 10; attempt++) expect(outage.failed(wrongPass)).toBe(true);
    expect(lines).toEqual([
      {
        level: "error",
        redis: "127.0.0.1:6391",
        code: "WRONGPASS",
        msg: "Redis at 127.0.0.1:6391 refuses the credentials in its URL (WRONGPASS): jobs wait until it is back",
      },
    ]);
    // Another command's error reply is not an outage: the caller logs it.
    const scriptError = Object.assign(new Error("ERR something"), { command: { name: "evalsha" } });
    expect(outage.failed(scriptError)).toBe(false);
  });
});
