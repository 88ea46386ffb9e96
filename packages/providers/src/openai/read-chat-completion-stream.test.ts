import type OpenAI from "openai";
import { Stream } from "openai/streaming";
import { describe, expect, it, vi } from "vitest";
import { readChatCompletionStream } from "./read-chat-completion-stream.js";

const client = {
  logger: { error() {}, warn() {}, info() {}, debug() {} },
  logLevel: "off",
} as unknown as OpenAI;

/** A response whose body arrives in exactly these pieces. */
function responseOf(chunks: Uint8Array[]): Response {
  return new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    }),
  );
}

type Outcome = { values: unknown[]; error?: { type: string; message: string } };

async function collect(iterable: AsyncIterable<unknown>): Promise<Outcome> {
  const values: unknown[] = [];
  try {
    for await (const value of iterable) values.push(value);
    return { values };
  } catch (error) {
    return { values, error: { type: (error as Error).constructor.name, message: (error as Error).message } };
  }
}

/** What the SDK's decoder and ours make of the same bytes, cut at the same places. */
async function both(chunks: Uint8Array[]): Promise<[Outcome, Outcome]> {
  const sdk = Stream.fromSSEResponse(responseOf(chunks), new AbortController(), client);
  const ours = readChatCompletionStream(responseOf(chunks), client, new AbortController());
  return [await collect(sdk), await collect(ours)];
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

const encode = (text: string) => new TextEncoder().encode(text);
const chunk = (content: string) =>
  JSON.stringify({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content } }] });

const wires = [
  `data: ${chunk("Hello")}\n\ndata: ${chunk(" wörld ✓")}\n\ndata: [DONE]\n\n`,
  `data: ${chunk("crlf")}\r\n\r\ndata: [DONE]\r\n\r\n`,
  `data: ${chunk("cr")}\r\rdata: [DONE]\r\r`,
  `: keep-alive comment\n\nevent: message\ndata: {"a":\ndata: 1}\n\n`,
  `data:${chunk("no space")}\n\ndata:  {"two":"spaces"}\n\n`,
  `data: [DONE]\n\ndata: not json at all\n\n`,
  `data: {"error":{"message":"overloaded","type":"server_error"}}\n\n`,
  "data: {broken\n\n",
  "event: ping\n\n",
  'event: thread.run\ndata: {"x":1}\n\n',
  `data: ${chunk("no blank line at the end")}`,
  `data: ${chunk("flushed")}\n`,
  "data\n\nid: 3\nretry: 10\ndata: 5\n\n",
  `\n\n\ndata: ${chunk("after blanks")}\n\n`,
];

describe("readChatCompletionStream", () => {
  it("yields and throws what the SDK's Stream.fromSSEResponse does, however the bytes are cut", async () => {
    for (const wire of wires) {
      const bytes = encode(wire);
      const [whole, ours] = await both([bytes]);
      expect(ours, wire).toEqual(whole);
      for (let cut = 1; cut < bytes.length; cut++) {
        const [sdk, mine] = await both(split(bytes, [cut]));
        expect(mine, `${JSON.stringify(wire)} cut at ${cut}`).toEqual(sdk);
      }
      const bytewise = Array.from(bytes, (byte) => Uint8Array.of(byte));
      const [sdk, mine] = await both(bytewise);
      expect(mine, `${JSON.stringify(wire)} byte by byte`).toEqual(sdk);
    }
  });

  it("agrees with the SDK on random streams of SSE pieces", async () => {
    const pieces = [
      "data: ",
      "data:",
      "event: ",
      "event: thread.x",
      ":c",
      "\n",
      "\r",
      "\r\n",
      "\n\n",
      "[DONE]",
    ];
    const values = ['{"a":1}', '{"error":"e"}', "é✓", "x", "{", "1", " "];
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % below;
    };
    for (let round = 0; round < 400; round++) {
      let wire = "";
      for (let index = random(12); index >= 0; index--) {
        wire +=
          random(2) === 0
            ? (pieces[random(pieces.length)] as string)
            : (values[random(values.length)] as string);
      }
      const bytes = encode(wire);
      const cuts = Array.from({ length: random(4) }, () => random(bytes.length + 1));
      const [sdk, mine] = await both(split(bytes, cuts));
      expect(mine, JSON.stringify({ wire, cuts })).toEqual(sdk);
    }
  });

  it("aborts the request when its reader stops early, ends quietly on an abort, and always finishes", async () => {
    const controller = new AbortController();
    const finish = vi.fn();
    const wire = encode(`data: ${chunk("one")}\n\ndata: ${chunk("two")}\n\n`);
    for await (const _ of readChatCompletionStream(responseOf([wire]), client, controller, finish)) break;
    expect(controller.signal.aborted).toBe(true);
    expect(finish).toHaveBeenCalledTimes(1);

    const aborted = new Response(
      new ReadableStream({
        pull: (stream) => stream.error(new DOMException("stopped", "AbortError")),
      }),
    );
    const ended = await collect(readChatCompletionStream(aborted, client, new AbortController(), finish));
    expect(ended).toEqual({ values: [] });
    expect(finish).toHaveBeenCalledTimes(2);

    const cancel = vi.fn();
    const open = new Response(
      new ReadableStream<Uint8Array>({
        start: (stream) => stream.enqueue(wire),
        cancel,
      }),
    );
    for await (const _ of readChatCompletionStream(open, client)) break;
    expect(cancel).toHaveBeenCalledTimes(1);

    const whole = new AbortController();
    const all = await collect(
      readChatCompletionStream(responseOf([encode("data: [DONE]\n\n")]), client, whole),
    );
    expect(all).toEqual({ values: [] });
    expect(whole.signal.aborted).toBe(false);
  });

  it("logs undecodable data to the client's logger unless its level is off", async () => {
    const error = vi.fn();
    const logged = { logger: { ...client.logger, error }, logLevel: "warn" } as unknown as OpenAI;
    const outcome = await collect(readChatCompletionStream(responseOf([encode("data: {nope\n\n")]), logged));
    expect(outcome.error?.type).toBe("SyntaxError");
    expect(error).toHaveBeenCalledWith("Could not parse message into JSON:", "{nope");
  });
});
