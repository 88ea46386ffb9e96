console.error(
  "@noa/trpc-bff is not built yet: it will be the tRPC backend-for-frontend and web playground (see README).",
);
process.exitCode = 1;

export {};
