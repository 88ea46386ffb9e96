import { CliError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";

/** fetch, turning "cannot connect" into a message that names the host and says what to do offline. */
export async function fetchOrExplain(
  url: string,
  origin: string,
  signal?: AbortSignal,
  init: RequestInit = {},
): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: signal ?? AbortSignal.timeout(15_000) });
  } catch (error) {
    if (signal?.aborted) throw error;
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new CliError(
      `cannot reach ${origin} (${cause}): pulling a model needs network access to it. ` +
        "Offline, copy a .gguf file into NOA_MODELS_DIR instead.",
      ExitCode.server,
    );
  }
}
