import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { CacheEvent, CallOptions, LanguageModel, StreamPart } from "../language-model.js";
import {
  OPENAI_LOOPBACK_API_KEY,
  startOpenAILoopbackServer,
} from "../openai/__fixtures__/openai-loopback-server.js";
import { createOpenAIProvider } from "../openai/openai-provider.js";
import type { LoopbackRequest, LoopbackServer } from "../testing/loopback-fault.js";
import { createMemoryCacheTier } from "./memory-cache-tier.js";
import { createResponseCache } from "./response-cache.js";
import { withCache } from "./with-cache.js";
import { createInFlightTable, withCoalescing } from "./with-coalescing.js";

let upstream: LoopbackServer;
let openai: LanguageModel;

beforeAll(async () => {
  // Chunks 5 ms apart: a stream of 20 chunks is in flight long enough for every caller to join it.
  upstream = await startOpenAILoopbackServer({ chunkDelayMs: 5 });
  openai = createOpenAIProvider({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: upstream.baseURL }).languageModel(
    "gpt-4o-mini",
  );
});
afterAll(async () => {
  await upstream.close();
});

/** The model as the server wraps it: coalescing outside the cache (here with a memory tier only). */
function setup() {
  const cache = createResponseCache({ tiers: [createMemoryCacheTier()] });
  const table = createInFlightTable();
  return { model: withCoalescing(withCache(openai, { cache }), { cache, table }), table };
}

/** The upstream requests that asked this question. */
function callsFor(options: CallOptions): LoopbackRequest[] {
  const content = options.messages[0]?.content;
  return upstream.requests.filter((request) => JSON.stringify(request.body).includes(content ?? "\u0000"));
}

function ask(extra: Partial<CallOptions> = {}): CallOptions & { events: CacheEvent[] } {
  const events: CacheEvent[] = [];
  return {
    messages: [{ role: "user", content: `${randomUUID()}: tell me about the sea.` }],
    maxTokens: 20,
    temperature: 0,
    ...extra,
    events,
    onCache: (event) => events.push(event),
  };
}

const same = (request: CallOptions, extra: Partial<CallOptions> = {}) =>
  ask({ messages: request.messages, maxTokens: request.maxTokens, ...extra });

async function collect(stream: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

describe("withCoalescing", () => {
  it("makes one upstream call for 50 identical concurrent whole-answer requests, and all get the answer", async () => {
    const { model, table } = setup();
    const first = ask();
    const requests = [first, ...Array.from({ length: 49 }, () => same(first))];
    const results = await Promise.all(requests.map((request) => model.generate(request)));

    expect(callsFor(first)).toHaveLength(1);
    expect(new Set(results.map((result) => result.text)).size).toBe(1);
    expect(results[0]).toMatchObject({ finishReason: "length", usage: { completionTokens: 20 } });
    expect(first.events).toEqual([{ status: "miss" }]);
    for (const request of requests.slice(1)) {
      expect(request.events.at(-1)).toEqual({
        status: "hit",
        source: "coalesced",
        model: "openai/gpt-4o-mini",
      });
    }
    expect(table.size).toBe(0);
  });

  it("makes one upstream call for 50 identical concurrent streams, each receiving the whole stream", async () => {
    const { model } = setup();
    const first = ask();
    const requests = [first, ...Array.from({ length: 49 }, () => same(first))];
    const streams = await Promise.all(requests.map((request) => collect(model.stream(request))));

    expect(callsFor(first)).toHaveLength(1);
    const [reference] = streams;
    expect(reference?.filter((part) => part.type === "text-delta")).toHaveLength(20);
    for (const parts of streams) expect(parts).toEqual(reference);
  });

  it("gives a caller who joins mid-stream what it missed, then the rest as it comes", async () => {
    const { model } = setup();
    const first = ask();
    const leaderParts: StreamPart[] = [];
    let late: Promise<StreamPart[]> | undefined;
    for await (const part of model.stream(first)) {
      leaderParts.push(part);
      if (leaderParts.length === 5) late = collect(model.stream(same(first)));
    }
    expect(await late).toEqual(leaderParts);
    expect(callsFor(first)).toHaveLength(1);
  });

  it("finishes the followers' streams when the first caller cancels, and stores the answer", async () => {
    const { model } = setup();
    const leaderAbort = new AbortController();
    const first = ask({ signal: leaderAbort.signal });
    const followers = Array.from({ length: 3 }, () => same(first));
    const following = followers.map((request) => collect(model.stream(request)));
    const leaderParts: StreamPart[] = [];
    for await (const part of model.stream(first)) {
      leaderParts.push(part);
      if (leaderParts.length === 2) leaderAbort.abort();
    }

    expect(leaderParts.at(-1)).toMatchObject({ type: "finish", finishReason: "cancelled" });
    for (const parts of await Promise.all(following)) {
      expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: "length" });
      expect(parts.filter((part) => part.type === "text-delta")).toHaveLength(20);
    }
    expect(callsFor(first)).toHaveLength(1);
    expect(callsFor(first)[0]?.closedByClient).toBe(false);

    const later = same(first);
    await model.generate(later);
    expect(later.events).toEqual([{ status: "hit", source: "memory", model: "openai/gpt-4o-mini" }]);
  });

  it("answers the followers of a whole-answer request whose first caller cancelled", async () => {
    const { model } = setup();
    const leaderAbort = new AbortController();
    const first = ask({ signal: leaderAbort.signal });
    const leading = model.generate(first);
    const following = Promise.all([model.generate(same(first)), model.generate(same(first))]);
    leaderAbort.abort();
    expect(await leading).toMatchObject({ finishReason: "cancelled", text: "" });
    for (const result of await following) expect(result).toMatchObject({ finishReason: "length" });
    expect(callsFor(first)).toHaveLength(1);
  });

  it("passes a stream's upstream call, and its usage, to a caller who stays when the first one leaves", async () => {
    const { model } = setup();
    const leaderAbort = new AbortController();
    const first = ask({ signal: leaderAbort.signal });
    const follower = same(first);
    const leaderParts: StreamPart[] = [];
    let following: Promise<StreamPart[]> | undefined;
    for await (const part of model.stream(first)) {
      leaderParts.push(part);
      if (leaderParts.length === 1) following = collect(model.stream(follower));
      if (leaderParts.length === 3) leaderAbort.abort();
    }
    const followerParts = (await following) ?? [];

    // The leaver's answer is now someone else's: a hit that costs nothing.
    expect(leaderParts.at(-1)).toMatchObject({ finishReason: "cancelled", usage: { promptTokens: 0 } });
    expect(first.events.at(-1)).toMatchObject({ status: "hit", source: "coalesced" });
    // The one who stays pays the whole upstream call: not a hit, with its real usage.
    expect(follower.events.at(-1)).toEqual({ status: "miss" });
    expect(followerParts.at(-1)).toEqual({
      type: "finish",
      finishReason: "length",
      usage: { promptTokens: expect.any(Number), completionTokens: 20 },
    });
    expect(callsFor(first)).toHaveLength(1);
  });

  it("passes a whole-answer call to the caller waiting longest when the first one leaves", async () => {
    const { model } = setup();
    const leaderAbort = new AbortController();
    const first = ask({ signal: leaderAbort.signal });
    const heir = same(first);
    const other = same(first);
    const leading = model.generate(first);
    const following = Promise.all([model.generate(heir), model.generate(other)]);
    leaderAbort.abort();
    expect(await leading).toMatchObject({ finishReason: "cancelled" });
    const [paid, shared] = await following;
    expect(first.events.at(-1)).toMatchObject({ status: "hit", source: "coalesced" });
    expect(heir.events.at(-1)).toEqual({ status: "miss" });
    expect(paid).toMatchObject({ finishReason: "length", usage: { completionTokens: 20 } });
    expect(other.events.at(-1)).toEqual({ status: "hit", source: "coalesced", model: "openai/gpt-4o-mini" });
    expect(shared?.text).toBe(paid?.text);
    expect(callsFor(first)).toHaveLength(1);
  });

  it("stops the upstream call when every caller has cancelled", async () => {
    const { model, table } = setup();
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const first = ask({ maxTokens: 1000 });
    const streams = controllers.map((controller) => model.stream(same(first, { signal: controller.signal })));
    const ends = streams.map(async (stream, index) => {
      const parts: StreamPart[] = [];
      for await (const part of stream) {
        parts.push(part);
        if (parts.length === 2 + index) controllers[index]?.abort();
      }
      return parts.at(-1);
    });
    for (const end of await Promise.all(ends)) expect(end).toMatchObject({ finishReason: "cancelled" });
    await vi.waitFor(() => expect(callsFor(first)[0]?.closedByClient).toBe(true));
    expect(callsFor(first)).toHaveLength(1);
    expect(callsFor(first)[0]?.chunksSent).toBeLessThan(1000);
    expect(table.size).toBe(0);
  });

  it("gives every caller the upstream's error", async () => {
    const { model } = setup();
    upstream.enqueueFaults({ kind: "status", status: 400 });
    const first = ask();
    const results = await Promise.allSettled(
      [first, same(first), same(first)].map((request) => model.generate(request)),
    );
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(callsFor(first)).toHaveLength(1);
  });

  it("does not share calls that differ, nor sampled calls, nor skip and refresh calls", async () => {
    const { model } = setup();
    const first = ask();
    await Promise.all([
      model.generate(first),
      model.generate(same(first, { cache: { scope: "tenant:globex" } })),
      model.generate(same(first, { maxTokens: 19 })),
      model.generate(same(first, { cache: { mode: "skip" } })),
      model.generate(same(first, { cache: { mode: "refresh" } })),
    ]);
    expect(callsFor(first)).toHaveLength(5);

    const sampled = ask({ temperature: 0.9 });
    await Promise.all([model.generate(sampled), model.generate(same(sampled, { temperature: 0.9 }))]);
    expect(callsFor(sampled)).toHaveLength(2);
  });
});
