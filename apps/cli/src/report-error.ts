import { Code, ConnectError } from "@connectrpc/connect";
import { describeError } from "@noa/client";
import pc from "picocolors";
import { CliError } from "./cli-error.js";
import { ExitCode, exitCodeFor } from "./exit-codes.js";

/**
 * Prints what went wrong on stderr — the server's message, its code and correlation id (to quote when
 * asking for help) — and returns the exit code. Never prints a stack trace or request headers.
 */
export function reportError(error: unknown, stderr: NodeJS.WritableStream, url?: string): number {
  if (error instanceof CliError) {
    stderr.write(`${pc.red("error:")} ${error.message}\n`);
    return error.exitCode;
  }
  if (!(error instanceof ConnectError)) {
    stderr.write(`${pc.red("error:")} ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.server;
  }
  const { code, message, correlationId, retryAfterMs } = describeError(error);
  const facts = [code];
  // The server already names the correlation id in its message; say it only when it does not.
  if (correlationId && !message.includes(correlationId)) facts.push(`correlation id: ${correlationId}`);
  if (retryAfterMs !== undefined) facts.push(`retry after ${Math.ceil(retryAfterMs / 1000)} s`);
  stderr.write(`${pc.red("error:")} ${message} ${pc.dim(`[${facts.join(", ")}]`)}\n`);
  if (error.code === Code.Unauthenticated) {
    stderr.write(pc.dim("hint: pass --api-key or set NOA_API_KEY to a valid key\n"));
  } else if (error.code === Code.Unavailable && !correlationId && url) {
    stderr.write(pc.dim(`hint: is NOA running at ${url}? pass --url or set NOA_URL\n`));
  }
  return exitCodeFor(error.code);
}
