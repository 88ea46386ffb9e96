import { describe, expect, it } from "vitest";
import { chatInput } from "./chat-input.js";

/** Each refusal's field path, as the BFF lists it in data.fieldErrors, and its message. */
function fieldErrors(input: unknown) {
  const result = chatInput.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => [issue.path.join("."), issue.message]);
}

describe("chatInput", () => {
  it("refuses empty message content and empty stop sequences, as rpc-server does", () => {
    expect(
      fieldErrors({
        model: "llama-cpp/tiny",
        messages: [
          { role: "user", content: "Hi" },
          { role: "assistant", content: "" },
        ],
        stop: ["\n", ""],
      }),
    ).toEqual([
      ["messages.1.content", "must not be empty"],
      ["stop.1", "must not be empty"],
    ]);
  });

  it("accepts content that is only white space, which rpc-server accepts too", () => {
    expect(fieldErrors({ model: "llama-cpp/tiny", messages: [{ role: "user", content: " " }] })).toEqual([]);
  });
});
