console.error(
  "@noa/worker is not built yet: it will run asynchronous BullMQ jobs with the same providers (see README).",
);
process.exitCode = 1;

export {};
