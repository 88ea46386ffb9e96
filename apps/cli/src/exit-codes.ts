import { Code } from "@connectrpc/connect";

/** The noa command's exit codes, documented in README.md: scripts can tell a typo from a bad key from a server fault. */
export const ExitCode = {
  ok: 0,
  /** The server failed, could not be reached, or timed out. */
  server: 1,
  /** Bad command line, or the server refused the input as invalid (INVALID_ARGUMENT). */
  usage: 2,
  /** No key, a bad, revoked or expired key, or a key without the needed scope (UNAUTHENTICATED, PERMISSION_DENIED). */
  auth: 3,
  /** No such model, key or job (NOT_FOUND). */
  notFound: 4,
  /** A rate or token limit (RESOURCE_EXHAUSTED). */
  rateLimited: 5,
  /** Stopped by Ctrl-C (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

/** Maps a call's Connect code to the exit code a script sees. */
export function exitCodeFor(code: Code): number {
  switch (code) {
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return ExitCode.usage;
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return ExitCode.auth;
    case Code.NotFound:
      return ExitCode.notFound;
    case Code.ResourceExhausted:
      return ExitCode.rateLimited;
    case Code.Canceled:
      return ExitCode.interrupted;
    default:
      return ExitCode.server;
  }
}
