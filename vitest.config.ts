import { defineConfig } from "vitest/config";

// The reliability suites that put real processes under load run after everything else, one file at a
// time: on a 2-core machine, alongside other tests, they would measure the other tests.
const loadSuites = ["apps/rpc-server/src/reliability/{faults,scale-out,sustained-load,slow-clients}.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ["./vitest.setup.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["{apps,packages}/*/src/**/*.test.ts"],
          exclude: loadSuites,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "load",
          include: loadSuites,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
