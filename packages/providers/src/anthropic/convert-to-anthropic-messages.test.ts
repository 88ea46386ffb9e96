import { describe, expect, it } from "vitest";
import { convertToAnthropicMessages, LEADING_USER_PLACEHOLDER } from "./convert-to-anthropic-messages.js";

describe("convertToAnthropicMessages", () => {
  it("moves system messages, wherever they stand, to the top-level system prompt", () => {
    expect(
      convertToAnthropicMessages([
        { role: "system", content: "You are terse." },
        { role: "user", content: "Hi" },
        { role: "system", content: "Answer in French." },
        { role: "assistant", content: "Salut" },
      ]),
    ).toEqual({
      system: "You are terse.\n\nAnswer in French.",
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Salut" },
      ],
    });
  });

  it("leaves system out when there is none", () => {
    expect(convertToAnthropicMessages([{ role: "user", content: "Hi" }])).toEqual({
      messages: [{ role: "user", content: "Hi" }],
    });
  });

  it("merges consecutive turns of one role so user and assistant alternate", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "user", content: "One" },
      { role: "system", content: "Be brief." },
      { role: "user", content: "Two" },
      { role: "assistant", content: "A" },
      { role: "assistant", content: "B" },
      { role: "user", content: "Three" },
    ]);
    expect(messages).toEqual([
      { role: "user", content: "One\n\nTwo" },
      { role: "assistant", content: "A\n\nB" },
      { role: "user", content: "Three" },
    ]);
  });

  it("puts a placeholder user turn before a conversation that opens with the assistant", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "assistant", content: "How can I help?" },
      { role: "user", content: "Tell me about the sea." },
    ]);
    expect(messages).toEqual([
      { role: "user", content: LEADING_USER_PLACEHOLDER },
      { role: "assistant", content: "How can I help?" },
      { role: "user", content: "Tell me about the sea." },
    ]);
  });

  it("gives a conversation of system messages only a placeholder user turn", () => {
    expect(convertToAnthropicMessages([{ role: "system", content: "Say hello." }])).toEqual({
      system: "Say hello.",
      messages: [{ role: "user", content: LEADING_USER_PLACEHOLDER }],
    });
  });

  it("drops messages without visible text, then merges the turns they separated", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "user", content: "One" },
      { role: "assistant", content: "  \n" },
      { role: "user", content: "Two" },
    ]);
    expect(messages).toEqual([{ role: "user", content: "One\n\nTwo" }]);
  });

  it("trims trailing whitespace off a final assistant prefill only", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "user", content: "Name a colour. " },
      { role: "assistant", content: "The colour is " },
    ]);
    expect(messages).toEqual([
      { role: "user", content: "Name a colour. " },
      { role: "assistant", content: "The colour is" },
    ]);
  });
});
