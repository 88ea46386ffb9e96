import { createLocalRateLimiter } from "@noa/access";
import type { JobService } from "@noa/jobs";
import { createLogger } from "@noa/observability";
import { createModelRegistry } from "@noa/providers";
import { createMetrics } from "../create-metrics.js";
import { build } from "../server.js";
import { createTestAccess, withKey } from "./create-test-access.js";
import { createFakeProvider } from "./fake-provider.js";

/**
 * A real rpc-server on a free loopback port, composed like main.ts but over the scripted fake provider
 * (`fake/short`, `fake/failing`…: no model to load), with metrics and its log lines parsed. Every key's
 * request bucket holds `requestBurst` requests and practically never refills, so a test can count what
 * each answer took from it. close() disposes it all.
 */
export async function startFakeServer(
  options: {
    requestBurst?: number;
    /** Largest request message Connect reads, in bytes. */
    readMaxBytes?: number;
    /** Serves JobService and /v1/jobs. */
    jobs?: JobService;
  } = {},
) {
  const testAccess = await createTestAccess({
    rateLimiter: createLocalRateLimiter({
      defaults: { requestBurst: options.requestBurst ?? 1_000, requestsPerSecond: 0.001, tokensPerMinute: 0 },
    }),
  });
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: "rpc-server",
    env: "test",
    destination: { write: (line: string) => logs.push(JSON.parse(line)) },
  });
  const registry = createModelRegistry({ providers: [createFakeProvider().provider] });
  const server = build({
    registry,
    logger,
    metrics: createMetrics({ registry }),
    access: testAccess.access,
    readMaxBytes: options.readMaxBytes,
    jobs: options.jobs,
  });
  const { port } = await server.listen(0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    port,
    logs,
    /** The bootstrapped admin key, and an interceptor that sends it. */
    adminKey: testAccess.adminKey,
    auth: withKey(testAccess.adminKey),
    /** GET /metrics, as Prometheus scrapes it. */
    scrape: async () => (await fetch(`${baseUrl}/metrics`)).text(),
    async close() {
      await server.close({ graceMs: 0 });
      await registry.close();
      await testAccess.close();
    },
  };
}

export type FakeServer = Awaited<ReturnType<typeof startFakeServer>>;
