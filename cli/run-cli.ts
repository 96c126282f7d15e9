import { isAnnalsError } from '../framework/errors.ts'
import type { CliCommand, CliContext } from './cli-command.ts'
import { commands as registered } from './commands.ts'

/** Exit codes: 0 success, 1 a command failed, 2 the command line is wrong. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const

/**
 * Dispatches `annals <command> [args]` to the registered subcommand and resolves to the exit code.
 * `help`, `--help` and `-h` list the commands; `help <command>` or `<command> --help` show its usage;
 * `--version` and `-v` run `version`.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), context)
 */
export async function runCli(
  argv: readonly string[],
  context: CliContext,
  commands: readonly CliCommand[] = registered,
): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined) {
    context.stderr.write(overview(commands))
    return exitCodes.usage
  }
  if (name === 'help' || name === '--help' || name === '-h') return help(args[0], context, commands)
  // `--version` and `-v` are what people type first; they name the version command.
  const wanted = name === '--version' || name === '-v' ? 'version' : name
  const command = commands.find((candidate) => candidate.name === wanted)
  if (!command) {
    context.stderr.write(`annals: unknown command '${name}'. Run 'annals help' for the list of commands.\n`)
    return exitCodes.usage
  }
  if (args.includes('--help') || args.includes('-h')) return help(name, context, commands)
  try {
    return (await command.run(args, context)) ?? exitCodes.ok
  } catch (error) {
    context.stderr.write(describeFailure(name, error))
    return exitCodes.failed
  }
}

function help(name: string | undefined, context: CliContext, commands: readonly CliCommand[]): number {
  if (name === undefined) {
    context.stdout.write(overview(commands))
    return exitCodes.ok
  }
  const command = commands.find((candidate) => candidate.name === name)
  if (!command) {
    context.stderr.write(`annals: unknown command '${name}'. Run 'annals help' for the list of commands.\n`)
    return exitCodes.usage
  }
  context.stdout.write(`${command.usage ?? `annals ${command.name}\n\n${command.summary}`}\n`)
  return exitCodes.ok
}

function overview(commands: readonly CliCommand[]): string {
  const width = Math.max(4, ...commands.map((command) => command.name.length))
  const lines = [
    ['help', 'Show this list, or the usage of one command'],
    ...commands.map((command) => [command.name, command.summary]),
  ].map(([name, summary]) => `  ${name!.padEnd(width)}  ${summary}`)
  return `Usage: annals <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'annals help <command>' for the options of one command.\n`
}

function describeFailure(name: string, error: unknown): string {
  if (isAnnalsError(error)) return `annals ${name}: ${error.code}: ${error.message}\n`
  if (error instanceof Error) return `annals ${name}: ${error.message}\n`
  return `annals ${name}: ${String(error)}\n`
}
