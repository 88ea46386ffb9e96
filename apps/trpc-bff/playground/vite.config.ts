import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** The playground: a plain TypeScript page, built into dist/playground, which the BFF serves. */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/playground", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
  },
});
