import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { transformTypeScript } from "./transform-type-script.js";

const run = promisify(execFile);

describe("@noa/runtime", () => {
  it("runs a TypeScript app whose imports name .js files, with stacks mapped to the .ts lines", async () => {
    const main = fileURLToPath(new URL("./__fixtures__/main.ts", import.meta.url));
    const { stdout } = await run(process.execPath, ["--import", "@noa/runtime/register", main], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
    });
    const printed = JSON.parse(stdout);
    expect(printed.text).toBe("Hello, sea");
    expect(printed.count).toBe(1);
    expect(printed.names).toEqual(["namedArrow", "Greeter", "failHere"]);
    // class fields and parameter properties are own properties, as tsc emits them for ES2023
    expect(printed.ownFields).toEqual(["prefix", "count"]);
    // import attributes are kept (Node needs `with { type: "json" }`)
    expect(printed.packageName).toBe("@noa/runtime");
    expect(printed.stackLine).toMatch(/greeting\.ts:14:\d+\)$/);
  });

  it("fails on a missing module with Node's own error, naming the .js specifier", async () => {
    const error = await run(
      process.execPath,
      ["--import", "@noa/runtime/register", "--input-type=module", "-e", 'import "./missing.js"'],
      { cwd: fileURLToPath(new URL("..", import.meta.url)) },
    ).catch((failure: { stderr: string }) => failure);
    expect((error as { stderr: string }).stderr).toContain("ERR_MODULE_NOT_FOUND");
    expect((error as { stderr: string }).stderr).toContain("missing.js");
  });

  it("compiles without keepNames wrappers: a named function costs nothing at run time", async () => {
    const code = await transformTypeScript(
      "export const add = (a: number, b: number): number => a + b;\nexport function twice(f: () => void) { f(); f(); }\n",
      "add.ts",
    );
    expect(code).not.toContain("__name");
    expect(code).toContain("const add = (a, b) => a + b;");
  });
});
