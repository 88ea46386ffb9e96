// @ts-check
/**
 * Node module hooks (registered by register.js) that run NOA's TypeScript: a `./x.js` import resolves to
 * `./x.ts` when only that exists (the NodeNext convention the sources follow), and `.ts` modules are
 * compiled by transformTypeScript as they load. Everything else is Node's own resolution and loading.
 */
import { readFile } from "node:fs/promises";
import { transformTypeScript } from "./transform-type-script.js";

/** @type {import("node:module").ResolveHook} */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("file:");
    if (!relative || !specifier.endsWith(".js") || !isNotFound(error)) throw error;
    try {
      return await nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    } catch {
      throw error;
    }
  }
}

/** @type {import("node:module").LoadHook} */
export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const source = await readFile(new URL(url), "utf8");
  return { format: "module", source: await transformTypeScript(source, url), shortCircuit: true };
}

/** @param {unknown} error */
function isNotFound(error) {
  return error instanceof Error && "code" in error && error.code === "ERR_MODULE_NOT_FOUND";
}
