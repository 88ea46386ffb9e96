// @ts-check
import { transform } from "esbuild";

/**
 * Compiles one TypeScript module to JavaScript for Node 20, as it is written: types stripped, imports that
 * only carry types dropped, an inline source map back to the `.ts` file. Unlike tsx (which NOA used to run
 * on), names are not kept by wrapping every named function in a `__name(…)` call at run time: nothing is
 * renamed, so functions keep their own names, and the wrappers cost a request several µs of CPU.
 *
 * @param {string} source TypeScript source
 * @param {string} filename its path or URL, for the source map and error messages
 * @returns {Promise<string>} the JavaScript
 */
export async function transformTypeScript(source, filename) {
  const result = await transform(source, {
    loader: "ts",
    format: "esm",
    target: "node20.19", // the engines floor: import attributes (`with { type: "json" }`) are kept
    sourcefile: filename,
    sourcemap: "inline",
    // class fields defined as ES2022 does (useDefineForClassFields), as tsc emits them for ES2023
    tsconfigRaw: { compilerOptions: { target: "ES2023" } },
  });
  return result.code;
}
