import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildPlayground } from "./__fixtures__/build-playground.js";
import { chromiumArgs, findChromium } from "./__fixtures__/find-chromium.js";
import { type BffStack, slowModel, startBffStack, tinyModel } from "./__fixtures__/start-bff-stack.js";

/** Waits for what the page shows (a user's patience, not a deadline: a loaded CI machine may be slow). */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 50 });

// The acceptance's browser test: the playground, built by Vite, served by the BFF in front of a real
// rpc-server, driven in headless Chromium (Debian's, through playwright-core).
const executablePath = findChromium();
if (!executablePath) {
  console.warn(
    "playground browser tests SKIPPED: no Chromium found (apt-get install -y chromium, or set NOA_CHROMIUM)",
  );
}

describe.skipIf(!executablePath)("the playground in a browser", () => {
  let stack: BffStack;
  let browser: Browser;
  let page: Page;
  let removeBuild: () => Promise<void> = async () => {};
  const chat = () => page.locator("#chat-panel");

  beforeAll(async () => {
    const [built, launched] = await Promise.all([
      buildPlayground(),
      chromium.launch({ executablePath, headless: true, args: chromiumArgs }),
    ]);
    removeBuild = built.remove;
    browser = launched;
    // One word every 150 ms: slow enough for a person (and the test) to press Stop mid-answer.
    stack = await startBffStack({ slowChunkMs: 150, staticDir: built.dir });
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await removeBuild();
  });

  it("refuses a wrong key with the server's message, then signs in with the caller's key", async () => {
    await page.goto(stack.bffUrl);
    await page.getByLabel("API key").fill("noa_abcdefghij_0123456789abcdef0123456789abcdef");
    await page.getByRole("button", { name: "Sign in" }).click();
    await poll(() => page.locator("#api-key-error").textContent()).toMatch(/not accepted.*correlation id/);

    await page.getByLabel("API key").fill(stack.userKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("tab", { name: "Chat" }).waitFor();
    await poll(() => page.locator("#model option").allTextContents()).toEqual(
      expect.arrayContaining([`${slowModel} · openai`, `${tinyModel} · llama-cpp`]),
    );
    // The session cookie is httpOnly: the page's scripts cannot read it, and the key is nowhere in the page.
    expect(await page.evaluate("document.cookie")).not.toContain("noa_session");
    expect(await page.content()).not.toContain(stack.userKey);
  });

  it("shows a field error from validation beside the field", async () => {
    await chat().getByLabel("Max tokens").fill("0");
    await chat().getByLabel("Message").fill("Hello");
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => page.locator("#maxTokens-error").textContent()).toBe("must be greater than 0");
  });

  it("streams an answer into the page, and Stop cancels the generation on the server", async () => {
    await chat().getByLabel("Model").selectOption(slowModel);
    await poll(() => page.locator("#model-info").textContent()).toMatch(/chat.*streaming|streaming.*chat/);
    await chat().getByLabel("Max tokens").fill("35");
    const before = stack.loopback.requests.length;
    await chat().getByLabel("Message").fill("Tell me about the sea");
    await page.getByRole("button", { name: "Send" }).click();

    const answer = page.locator(".turn.assistant .turn-text").last();
    await poll(() => answer.textContent()).toMatch(/^The sea is vast/);
    await page.getByRole("button", { name: "Stop" }).click();
    await poll(() => page.locator(".turn.assistant .turn-meta").last().textContent()).toBe(
      "Stopped: generation cancelled.",
    );

    // Server side: rpc-server closed the upstream generation before its 35 words were all sent, and recorded the
    // call as cancelled.
    await vi.waitFor(() => expect(stack.loopback.requests[before]?.closedByClient).toBe(true));
    expect(stack.loopback.requests[before]?.chunksSent).toBeLessThan(35);
    await vi.waitFor(() =>
      expect(stack.usageRecords().some((record) => record.status === "cancelled")).toBe(true),
    );
    const shown = (await answer.textContent()) ?? "";
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await answer.textContent()).toBe(shown);
    expect(await page.getByRole("button", { name: "Send" }).isEnabled()).toBe(true);
  });

  it("shows the final usage and cost of a whole answer from the local model", async () => {
    await chat().getByLabel("Model").selectOption(tinyModel);
    await chat().getByLabel("Max tokens").fill("12");
    await chat().getByLabel("Message").fill("Hello there");
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => page.locator(".turn.assistant .turn-meta").last().textContent()).toMatch(
      /reached max tokens · \d+ prompt \+ 12 completion tokens · cost \$0 · llama-cpp\/llama-2-tiny-random/,
    );
  });

  it("shows an error from the server with its correlation id", async () => {
    await chat().getByLabel("Max tokens").fill("12");
    // A model that rpc-server does not serve (as if it was removed after the page loaded).
    await page.evaluate(`{
      const select = document.querySelector("#model");
      select.append(new Option("retired", "llama-cpp/retired-model"));
      select.value = "llama-cpp/retired-model";
    }`);
    await chat().getByLabel("Message").fill("Hello");
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => page.locator("#app-error").textContent()).toMatch(
      /retired-model.*correlation id: [\w-]+/,
    );
  });

  it("says the connection was lost when the BFF goes away mid-answer", async () => {
    await chat().getByLabel("Model").selectOption(slowModel);
    await chat().getByLabel("Max tokens").fill("35");
    const before = stack.loopback.requests.length;
    await chat().getByLabel("Message").fill("Tell me about the sea again");
    await page.getByRole("button", { name: "Send" }).click();
    await poll(() => page.locator(".turn.assistant .turn-text").last().textContent()).toMatch(/^The sea/);
    await stack.stopBff();
    await poll(() => page.locator(".turn.assistant .turn-meta").last().textContent()).toMatch(
      /^Disconnected/,
    );
    expect(await page.locator("#connection-dot").getAttribute("title")).toBe("disconnected");
    // The BFF's end cancelled the call: rpc-server stopped the generation.
    await vi.waitFor(() => expect(stack.loopback.requests[before]?.closedByClient).toBe(true));
    expect(await page.getByRole("button", { name: "Send" }).isEnabled()).toBe(true);
  });
});
