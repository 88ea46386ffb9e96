import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readConfigFile } from "./read-config-file.js";

const dir = mkdtempSync(path.join(tmpdir(), "noa-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
};

describe("readConfigFile", () => {
  it("reads the routing and pricing sections", () => {
    const config = { routing: { routes: { fast: ["openai/gpt-4o-mini"] } }, pricing: {} };
    expect(readConfigFile(file("ok.json", JSON.stringify(config)))).toEqual(config);
  });

  it("refuses what it would otherwise ignore or fail on later, saying what is wrong", () => {
    const typo = file("typo.json", JSON.stringify({ routes: {}, limits: {} }));
    expect(() => readConfigFile(typo)).toThrow(
      `NOA_CONFIG file ${typo} has "routes", "limits", which NOA does not read: it holds "routing" and "pricing"`,
    );
    const list = file("list.json", "[]");
    expect(() => readConfigFile(list)).toThrow(`NOA_CONFIG file ${list} must hold a JSON object`);
    const broken = file("broken.json", "{");
    expect(() => readConfigFile(broken)).toThrow(`NOA_CONFIG file ${broken} is not valid JSON`);
    expect(() => readConfigFile(path.join(dir, "missing.json"))).toThrow(
      "NOA_CONFIG names a file that cannot be read",
    );
  });
});
