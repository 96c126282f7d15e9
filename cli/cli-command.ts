/** Where a subcommand writes and what it may read: the process's streams in use, buffers in tests. */
export interface CliContext {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** Aborts when the process is asked to stop (SIGINT, SIGTERM): long-running subcommands shut down on it. */
  readonly signal: AbortSignal
}

/**
 * One `annals` subcommand, in a file of its own (cli/<name>-command.ts) and listed in cli/commands.ts.
 * `run` resolves to the exit code (0 when omitted); a thrown AnnalsError prints its code and message.
 *
 * @example
 * export const versionCommand: CliCommand = { name: 'version', summary: 'Print the version', run: ... }
 */
export interface CliCommand {
  readonly name: string
  /** One line for `annals help`. */
  readonly summary: string
  /** The full usage text for `annals help <name>` and `annals <name> --help`. */
  readonly usage?: string
  run(args: readonly string[], context: CliContext): Promise<number | void>
}
