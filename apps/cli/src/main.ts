import { CommanderError } from "commander";
import { createProgram } from "./create-program.js";
import { ExitCode } from "./exit-codes.js";
import { reportError } from "./report-error.js";

/** Entry point of the `noa` binary: parse, run one command, exit with a code that tells what happened. */
async function main(): Promise<number> {
  const { program, context } = createProgram(process.env);
  try {
    await program.parseAsync(process.argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed the message (or the help) already.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    return reportError(error, process.stderr, context.options().url);
  }
}

// Exit explicitly: an idle HTTP/2 session would otherwise keep the process alive for a while.
main().then((code) => process.exit(code));
