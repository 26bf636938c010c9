/** What every `stargz` subcommand module exports: run with its own argv, return an exit code. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal: AbortSignal;
}

export interface CommandModule {
  /** One line for the top-level --help. */
  summary: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/** A usage error: the CLI prints the message and the command's help, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
