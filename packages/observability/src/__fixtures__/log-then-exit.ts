// Logs to the file argv[2] (`-`: standard output), then ends as argv[3] says, in the same turn of the event loop:
// `exit` (process.exit), `throw` (an uncaught error) or `return` (the event loop runs dry).
import { createLogger } from "../create-logger.js";

const [, , file = "", ending = "exit"] = process.argv;
const logger = createLogger({ service: "test", env: "test", ...(file !== "-" && { file }) });
logger.info({ n: 1 }, "first");
logger.info({ n: 2 }, "last words");
if (ending === "exit") process.exit(0);
if (ending === "throw") throw new Error("crashed after logging");
