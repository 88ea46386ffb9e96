#!/usr/bin/env node
// Runs the TypeScript sources through @noa/runtime, so `pnpm exec noa` works from a clean checkout without a build.
import "@noa/runtime/register";

await import("../src/main.ts");
