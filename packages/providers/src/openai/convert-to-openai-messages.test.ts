import { describe, expect, it } from "vitest";
import { convertToOpenAIMessages } from "./convert-to-openai-messages.js";

describe("convertToOpenAIMessages", () => {
  it("keeps every turn in order with its role and text", () => {
    expect(
      convertToOpenAIMessages([
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "Bye" },
      ]),
    ).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Bye" },
    ]);
  });

  it("keeps empty content rather than dropping the turn", () => {
    expect(convertToOpenAIMessages([{ role: "user", content: "" }])).toEqual([{ role: "user", content: "" }]);
  });
});
