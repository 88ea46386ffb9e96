import { availableParallelism } from "node:os";
import { createLlamaCppProvider, createModelRegistry } from "@noa/providers";
import { tinyModelPath } from "@noa/providers/test-fixtures";
import { pino } from "pino";
import { build } from "../server.js";

/** A real rpc-server on a free loopback port, serving the tiny llama model; close() disposes it all. */
export async function startTestServer(options: { sequencesPerModel?: number } = {}) {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const llamaCpp = createLlamaCppProvider({
    modelPaths: [tinyModelPath],
    threads: availableParallelism(),
    sequencesPerModel: options.sequencesPerModel ?? 4,
    logger,
  });
  const registry = createModelRegistry({ providers: [llamaCpp] });
  const server = build({ registry, logger });
  const { port } = await server.listen(0, "127.0.0.1");
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    manager: llamaCpp.manager,
    logs,
    modelId: "llama-cpp/llama-2-tiny-random",
    server,
    async close(graceMs = 0) {
      await server.close({ graceMs });
      await registry.close();
    },
  };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;
