import { describe, expect, it } from 'vitest'
import { AnnalsError } from '../framework/errors.ts'
import type { CliCommand, CliContext } from './cli-command.ts'
import { runCli } from './run-cli.ts'

function capture() {
  const out = { stdout: '', stderr: '' }
  const context: CliContext = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    env: {},
    cwd: process.cwd(),
    signal: new AbortController().signal,
  }
  return { out, context }
}

const received: (readonly string[])[] = []
const echo: CliCommand = {
  name: 'echo',
  summary: 'Print the arguments',
  usage: 'annals echo <words...>',
  run(args, context) {
    received.push(args)
    context.stdout.write(args.join(' '))
    return Promise.resolve()
  },
}
const failing: CliCommand = {
  name: 'fail',
  summary: 'Always fails',
  run: () => Promise.reject(new AnnalsError('BAD_CONFIG', 'ANNALS_PORT is not a number')),
}
const exitsThree: CliCommand = { name: 'three', summary: 'Exits with 3', run: () => Promise.resolve(3) }
const commands = [echo, failing, exitsThree]

describe('runCli', () => {
  it('runs the named subcommand with the remaining arguments and exits 0', async () => {
    const { out, context } = capture()
    expect(await runCli(['echo', 'a', 'b'], context, commands)).toBe(0)
    expect(out.stdout).toBe('a b')
  })

  it('lists every registered command on help', async () => {
    const { out, context } = capture()
    expect(await runCli(['help'], context, commands)).toBe(0)
    expect(out.stdout).toMatch(/echo\s+Print the arguments/)
    expect(out.stdout).toMatch(/fail\s+Always fails/)
  })

  it('shows one command usage on help <command> and on <command> --help, without running it', async () => {
    const before = received.length
    for (const argv of [
      ['help', 'echo'],
      ['echo', '--help'],
    ]) {
      const { out, context } = capture()
      expect(await runCli(argv, context, commands)).toBe(0)
      expect(out.stdout).toContain('annals echo <words...>')
    }
    expect(received.length).toBe(before)
  })

  it('refuses an unknown command with exit code 2 and a pointer to help', async () => {
    const { out, context } = capture()
    expect(await runCli(['nope'], context, commands)).toBe(2)
    expect(out.stderr).toContain("unknown command 'nope'")
    expect(out.stderr).toContain('annals help')
  })

  it('prints the overview to stderr and exits 2 without a command', async () => {
    const { out, context } = capture()
    expect(await runCli([], context, commands)).toBe(2)
    expect(out.stderr).toContain('Usage: annals <command>')
  })

  it('prints the code and message of a failing command and exits 1', async () => {
    const { out, context } = capture()
    expect(await runCli(['fail'], context, commands)).toBe(1)
    expect(out.stderr).toBe('annals fail: BAD_CONFIG: ANNALS_PORT is not a number\n')
  })

  it('passes on the exit code a command returns', async () => {
    const { context } = capture()
    expect(await runCli(['three'], context, commands)).toBe(3)
  })
})
