// `npm start` on a terminal prints readable log lines in development; piped, or in production, JSON lines.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { reservePorts } from '../cluster/cluster-harness.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
// util-linux's `script` runs the example on a pseudo-terminal, as a developer's shell would.
const hasScript = spawnSync('script', ['--version']).status === 0

/** Runs example-app/main.ts until its banner, on a terminal or piped, and returns what it printed. */
async function outputOf(env: Record<string, string>, terminal: boolean): Promise<string> {
  const [port] = await reservePorts(1)
  const dataDir = await mkdtemp(join(tmpdir(), 'annals-terminal-'))
  const command = 'node --conditions=development --import tsx example-app/main.ts'
  const child = terminal
    ? spawn('script', ['-qefc', command, '/dev/null'], {
        cwd: root,
        env: childEnv(),
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'example-app/main.ts'], {
        cwd: root,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
  function childEnv() {
    return { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', ANNALS_DATA_DIR: dataDir }
  }
  try {
    let text = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within 30 s: ${text}`)), 30_000)
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (/ready on port[\s\S]*\n\s*\n/.test(text)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${text}`)))
    })
    return text
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    await rm(dataDir, { recursive: true, force: true })
  }
}

describe.skipIf(!hasScript)('log lines of npm start (needs util-linux script for a terminal)', () => {
  it('are readable on a terminal in development', async () => {
    const text = await outputOf({ NODE_ENV: 'development' }, true)
    expect(text).toMatch(/INFO.*Annals event store/)
    expect(text).not.toContain('{"level"')
  }, 40_000)

  it('are JSON when piped, in development too', async () => {
    const text = await outputOf({ NODE_ENV: 'development' }, false)
    expect(text).toContain('"msg":"Annals event store"')
  }, 40_000)

  it('are JSON on a terminal in production', async () => {
    const text = await outputOf(
      { NODE_ENV: 'production', ANNALS_AUTH: 'none', ANNALS_METRICS_PORT: '0' },
      true,
    )
    expect(text).toContain('"msg":"Annals event store"')
  }, 40_000)
})
