import { describe, expect, it } from "vitest";
import { submitJobInput } from "./job-input.js";

function fieldErrors(input: unknown) {
  const result = submitJobInput.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => [issue.path.join("."), issue.message]);
}

const usageExport = (start: string, end: string) => ({ spec: { kind: "usage-export", start, end } });

describe("submitJobInput", () => {
  it("refuses a usage export spanning more than 366 days, as JobService does", () => {
    expect(fieldErrors(usageExport("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"))).toEqual([]);
    expect(fieldErrors(usageExport("2024-01-01T00:00:00Z", "2025-01-01T00:00:01Z"))).toEqual([
      ["spec.end", "at most 366 days after start"],
    ]);
  });

  it("refuses an inference job with an empty message", () => {
    expect(
      fieldErrors({
        spec: { kind: "inference", model: "llama-cpp/tiny", messages: [{ role: "user", content: "" }] },
      }),
    ).toEqual([["spec.messages.0.content", "must not be empty"]]);
  });
});
