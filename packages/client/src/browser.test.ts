import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SpawnedNoaServer, spawnNoaServer } from "./testing/spawn-noa-server.js";

// @noa/client bundled for the browser (esbuild, as a web app would) and run in a real Chromium page on
// another origin than the server: fetch-based Connect and gRPC-Web transports, CORS, errors, cancel.
const chromiumPath = process.env.NOA_CHROMIUM ?? "/usr/bin/chromium";
const hasChromium = existsSync(chromiumPath);
if (!hasChromium) {
  console.warn(
    `skipping @noa/client in a browser: no Chromium at ${chromiumPath} (apt-get install chromium; .ci/run does)`,
  );
}

/** The page's code: it calls the server the way a web app would and reports what the user would see. */
const pageScript = `
import { createNoaClient, describeError } from ${JSON.stringify(fileURLToPath(new URL("./index.ts", import.meta.url)))};
window.chatInBrowser = async ({ baseUrl, apiKey, transport, model }) => {
  const noa = createNoaClient({ baseUrl, apiKey, transport });
  const parts = [];
  for await (const part of noa.streamChat({ model, messages: "Hello from a browser", maxTokens: 10 })) parts.push(part);
  const abort = new AbortController();
  let cancelled;
  try {
    for await (const part of noa.streamChat({ model, messages: "Go on", maxTokens: 100000 }, { signal: abort.signal })) abort.abort();
  } catch (error) {
    cancelled = describeError(error).code;
  }
  let refused;
  try {
    await createNoaClient({ baseUrl, apiKey: "noa_wrong_key", transport }).models.listModels({});
  } catch (error) {
    refused = describeError(error);
  }
  return { parts, cancelled, refused };
};
`;

describe.skipIf(!hasChromium)("@noa/client in Chromium", () => {
  let server: SpawnedNoaServer;
  let page: Server;
  let pageOrigin: string;
  let browser: Browser;

  beforeAll(async () => {
    const bundle = await build({
      stdin: { contents: pageScript, resolveDir: fileURLToPath(new URL(".", import.meta.url)), loader: "ts" },
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
    });
    const script = bundle.outputFiles[0]?.text ?? "";
    page = createServer((request, response) => {
      if (request.url === "/app.js") {
        response.writeHead(200, { "content-type": "text/javascript" });
        response.end(script);
        return;
      }
      response.writeHead(200, { "content-type": "text/html" });
      response.end('<!doctype html><script type="module" src="/app.js"></script>');
    });
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
    pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    server = await spawnNoaServer({ env: { CORS_ORIGIN: pageOrigin } });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--no-sandbox", "--disable-background-networking"],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await new Promise((resolve) => page?.close(resolve));
  });

  it.each(["connect", "grpc-web"])(
    "streams, cancels and reports errors over %s from another origin",
    async (transport) => {
      const tab = await browser.newPage();
      await tab.goto(pageOrigin);
      await tab.waitForFunction(() => "chatInBrowser" in globalThis);
      const result = await tab.evaluate(
        (args) =>
          (globalThis as unknown as { chatInBrowser: (a: typeof args) => Promise<unknown> }).chatInBrowser(
            args,
          ),
        { baseUrl: server.baseUrl, apiKey: server.adminKey, transport, model: server.modelId },
      );
      const { parts, cancelled, refused } = result as {
        parts: Array<{ type: string; text?: string; usage?: { completionTokens: number } }>;
        cancelled: string;
        refused: { code: string; correlationId?: string; message: string };
      };
      expect(parts.filter((part) => part.type === "text-delta").length).toBeGreaterThan(1);
      expect(parts.at(-1)).toMatchObject({
        type: "finish",
        finishReason: "length",
        usage: { completionTokens: 10 },
      });
      expect(cancelled).toBe("canceled");
      expect(refused.code).toBe("unauthenticated");
      // Readable cross-origin only because the server exposes the header to the page.
      expect(refused.correlationId).toMatch(/^[\w-]{8,}$/);
      expect(refused.message).toContain(refused.correlationId);
      await tab.close();
    },
  );
});
