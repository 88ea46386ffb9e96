import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStaticHandler } from "./serve-static.js";

let root: string;
let servers: Server[] = [];
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "noa-static-"));
  await mkdir(path.join(root, "site", "assets"), { recursive: true });
  await writeFile(path.join(root, "site", "index.html"), "<!doctype html><title>page</title>");
  await writeFile(path.join(root, "site", "assets", "app-1a2b.js"), "console.log(1)");
  await writeFile(path.join(root, "secret.txt"), "not for the web");
});
afterAll(async () => {
  for (const server of servers) server.close();
  servers = [];
  await rm(root, { recursive: true, force: true });
});

async function serve(dir: string | undefined): Promise<string> {
  const handler = createStaticHandler(dir);
  const server = createServer((request, response) => void handler(request, response));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("createStaticHandler", () => {
  it("serves the page with a strict content security policy, and hashed assets for a year", async () => {
    const base = await serve(path.join(root, "site"));
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const asset = await fetch(`${base}/assets/app-1a2b.js`);
    expect(await asset.text()).toBe("console.log(1)");
    expect(asset.headers.get("cache-control")).toContain("immutable");
  });

  it("never serves a file outside its directory", async () => {
    const base = await serve(path.join(root, "site"));
    for (const attempt of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e%2f%2e%2e%2fsecret.txt"]) {
      const response = await fetch(`${base}${attempt}`);
      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain("not for the web");
    }
  });

  it("says how to build the page when it is not built", async () => {
    const base = await serve(path.join(root, "missing"));
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toMatch(/pnpm --filter @noa\/trpc-bff build/);
  });
});
