#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so `pnpm exec noa` works from a clean checkout without a build.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
