import { describe, expect, it } from "vitest";
import { convertToLlamaChatHistory } from "./convert-to-llama-chat-history.js";

describe("convertToLlamaChatHistory", () => {
  it("maps roles and ends with an empty model response to generate", () => {
    expect(
      convertToLlamaChatHistory([
        { role: "system", content: "Be terse." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "How are you?" },
      ]),
    ).toEqual([
      { type: "system", text: "Be terse." },
      { type: "user", text: "Hi" },
      { type: "model", response: ["Hello."] },
      { type: "user", text: "How are you?" },
      { type: "model", response: [] },
    ]);
  });

  it("keeps a trailing assistant message as the response the model continues", () => {
    expect(
      convertToLlamaChatHistory([
        { role: "user", content: "Count to three" },
        { role: "assistant", content: "One, two," },
      ]),
    ).toEqual([
      { type: "user", text: "Count to three" },
      { type: "model", response: ["One, two,"] },
    ]);
  });
});
