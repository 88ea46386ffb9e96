/** A failure the CLI explains itself (bad flag value, missing key, offline): its message and exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
