import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Runs the real `annals` entry point from the sources, as `npm run annals --` does. */
function annals(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', 'cli/annals.ts', ...args],
      { cwd: root, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('the annals command', () => {
  it('lists its commands on help and exits 0', async () => {
    const result = await annals('help')
    expect(result).toMatchObject({ code: 0 })
    expect(result.stdout).toMatch(/version\s+Print the version/)
  })

  it('exits non-zero on an unknown command', async () => {
    const result = await annals('no-such-command')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown command 'no-such-command'")
  })

  it('prints the package version', async () => {
    const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    expect((await annals('version')).stdout).toBe(`${manifest.version}\n`)
    expect((await annals('--version')).stdout).toBe(`${manifest.version}\n`)
    expect((await annals('-v')).stdout).toBe(`${manifest.version}\n`)
  })
})
