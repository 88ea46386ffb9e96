import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  createDatabase,
  createPrismaApiKeyStore,
  createPrismaUsageStore,
  type Database,
  migrateDatabase,
} from "@noa/db";
import { createTestDatabase } from "@noa/db/testing";
import { ApiKeyService, InferenceService, Role, Scope, UsageService } from "@noa/proto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTestAccess, withKey } from "./__fixtures__/create-test-access.js";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

// Issue 4's acceptance on the real stores: Prisma on a fresh PostgreSQL database per test, and a
// smaller smoke set on the embedded PGlite default.
const messages = [{ role: Role.USER, content: "Hello there" }];
const model = "llama-cpp/llama-2-tiny-random";
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverOn(database: Database, options: { cacheTtlMs?: number } = {}) {
  const access = await createTestAccess({
    store: createPrismaApiKeyStore(database.prisma),
    usageStore: createPrismaUsageStore(database.prisma),
    ...options,
  });
  const server = await startTestServer({ access });
  cleanups.push(() => server.close());
  return server;
}

function clients(server: TestServer, key: string) {
  const transport = createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [withKey(key)] });
  return {
    inference: createClient(InferenceService, transport),
    keys: createClient(ApiKeyService, transport),
    usage: createClient(UsageService, transport),
  };
}

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  return call.then(
    () => undefined,
    (error: unknown) => ConnectError.from(error).code,
  );
}

/** Every text value in every table, for searching the database for a secret. */
async function dumpTables(database: Database): Promise<string> {
  const tables = await database.prisma.$queryRaw<Array<{ table_name: string }>>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`;
  const rows = [];
  for (const { table_name } of tables) {
    rows.push(await database.prisma.$queryRawUnsafe(`SELECT * FROM "${table_name}"`));
  }
  return JSON.stringify(rows, (_key, value) => (typeof value === "bigint" ? value.toString() : value));
}

describe("on PostgreSQL through Prisma", () => {
  async function freshDatabase() {
    const database = await createTestDatabase();
    cleanups.push(() => database.close());
    return database;
  }

  it("keys work end to end, a revoked key is refused after the cache TTL, and no plaintext reaches the database or logs", async () => {
    const database = await freshDatabase();
    const first = await serverOn(database, { cacheTtlMs: 300 });
    const second = await startTestServer({
      access: await createTestAccess({
        store: createPrismaApiKeyStore(database.prisma),
        usageStore: createPrismaUsageStore(database.prisma),
        adminKey: first.adminKey,
        cacheTtlMs: 300,
      }),
    });
    cleanups.push(() => second.close());
    const { key, apiKey } = await clients(first, first.adminKey).keys.createApiKey({
      name: "ci",
      tenant: "acme",
      scopes: [Scope.INFERENCE],
    });
    expect(
      await codeOf(clients(second, key).inference.complete({ model, messages, maxTokens: 2 })),
    ).toBeUndefined();
    await clients(first, first.adminKey).keys.revokeApiKey({ id: apiKey?.id ?? "" });
    await vi.waitFor(
      async () =>
        expect(await codeOf(clients(second, key).inference.complete({ model, messages, maxTokens: 1 }))).toBe(
          Code.Unauthenticated,
        ),
      { timeout: 5_000, interval: 50 },
    );
    await first.access.ledger.flush();
    await second.access.ledger.flush();
    const everything = await dumpTables(database);
    for (const secret of [key, first.adminKey]) {
      const secretPart = secret.split("_").at(-1) ?? secret;
      expect(everything).not.toContain(secretPart);
      expect(JSON.stringify([first.logs, second.logs])).not.toContain(secretPart);
    }
    expect(everything).toContain(apiKey?.prefix);
  });

  it("writes a usage record per call and shows a tenant only its own usage", async () => {
    const database = await freshDatabase();
    const server = await serverOn(database);
    const admin = clients(server, server.adminKey);
    const acme = await admin.keys.createApiKey({ name: "a", tenant: "acme", scopes: [Scope.INFERENCE] });
    const globex = await admin.keys.createApiKey({ name: "g", tenant: "globex", scopes: [Scope.INFERENCE] });
    await clients(server, acme.key).inference.complete({ model, messages, maxTokens: 3 });
    await clients(server, acme.key).inference.complete({ model, messages, maxTokens: 2 });
    await server.access.ledger.flush();

    const own = await clients(server, acme.key).usage.getUsageSummary({});
    expect(own.rows).toHaveLength(1);
    expect(own.rows[0]).toMatchObject({
      apiKeyId: acme.apiKey?.id,
      model,
      requests: 2n,
      completionTokens: 5n,
    });
    expect((await clients(server, globex.key).usage.getUsageSummary({})).rows).toHaveLength(0);
    expect(await codeOf(clients(server, globex.key).usage.getUsageSummary({ tenant: "acme" }))).toBe(
      Code.PermissionDenied,
    );
    expect(await database.prisma.usageRecord.count({ where: { tenant: "acme", status: "ok" } })).toBe(2);
  });
});

describe("on the embedded PGlite default (smoke)", () => {
  it("migrates, bootstraps an admin key, serves keys, inference and usage", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "noa-pglite-"));
    const database = await createDatabase({ dataDir });
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    cleanups.push(() => database.close());
    await migrateDatabase(database);
    const server = await serverOn(database);
    const { key } = await clients(server, server.adminKey).keys.createApiKey({
      name: "smoke",
      tenant: "acme",
      scopes: [Scope.INFERENCE],
    });
    expect(await codeOf(clients(server, "noa_nope_nope").inference.complete({ model, messages }))).toBe(
      Code.Unauthenticated,
    );
    const answer = await clients(server, key).inference.complete({ model, messages, maxTokens: 2 });
    expect(answer.usage?.completionTokens).toBe(2);
    await server.access.ledger.flush();
    const usage = await clients(server, key).usage.getUsageSummary({});
    expect(usage.total?.requests).toBe(1n);
    expect(usage.total?.completionTokens).toBe(2n);
  });
});
