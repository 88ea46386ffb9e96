import { readFileSync } from "node:fs";

/** The NOA_CONFIG file: the routing table and policies, and model prices (README "Routing", "Usage and cost"). */
export interface ConfigFile {
  routing?: unknown;
  pricing?: unknown;
}

const sections = ["routing", "pricing"];

/**
 * Reads the NOA_CONFIG file every app reads (rpc-server and the worker must route and price alike). Throws
 * an error saying what is wrong: a file that cannot be read, JSON that does not parse, or a key this
 * version does not know (a typo would otherwise be silently ignored). Each section is checked by its own
 * parser (parseRoutingConfig, parsePricingConfig).
 */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`NOA_CONFIG names a file that cannot be read: ${file} (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`NOA_CONFIG file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`NOA_CONFIG file ${file} must hold a JSON object with "routing" and/or "pricing"`);
  }
  const unknown = Object.keys(parsed).filter((key) => !sections.includes(key));
  if (unknown.length > 0) {
    throw new Error(
      `NOA_CONFIG file ${file} has ${unknown.map((key) => JSON.stringify(key)).join(", ")}, which NOA does not read: it holds "routing" and "pricing"`,
    );
  }
  return parsed as ConfigFile;
}
