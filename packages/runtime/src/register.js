// @ts-check
/**
 * `node --import @noa/runtime/register app.ts`: runs NOA's TypeScript sources directly (see hooks.js),
 * with error stacks mapped back to the `.ts` lines.
 */
import { register } from "node:module";

process.setSourceMapsEnabled(true);
register("./hooks.js", import.meta.url);
