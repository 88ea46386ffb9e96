import { Command, Option } from "commander";
import { type CliContext, createCliContext, type GlobalOptions } from "./cli-context.js";
import { registerChat } from "./commands/chat.js";
import { registerJobs } from "./commands/jobs.js";
import { registerKeys } from "./commands/keys.js";
import { registerModels } from "./commands/models.js";
import { registerUsage } from "./commands/usage.js";

/** The `noa` command tree (commander): global options, then one register function per command group. */
export function createProgram(env: NodeJS.ProcessEnv): { program: Command; context: CliContext } {
  const program = new Command("noa");
  const context = createCliContext(() => program.opts<GlobalOptions>(), env);
  program
    .description("NOA from a terminal: chat with models, manage keys, read usage, run jobs")
    .version("0.1.0")
    .addOption(new Option("--url <url>", "the NOA server").env("NOA_URL").default("http://127.0.0.1:8080"))
    .addOption(new Option("--api-key <key>", "API key (noa_…) or JWT").env("NOA_API_KEY"))
    .addOption(
      new Option("--protocol <protocol>", "wire protocol")
        .choices(["grpc", "connect", "grpc-web"])
        .default("grpc"),
    )
    .option("--json", "machine-readable output (JSON) instead of text")
    .showHelpAfterError("(run `noa --help` or `noa <command> --help` for usage)")
    .exitOverride();
  registerChat(program, context);
  registerModels(program, context);
  registerKeys(program, context);
  registerUsage(program, context);
  registerJobs(program, context);
  for (const command of program.commands) command.exitOverride();
  return { program, context };
}
