import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EventStoreDBClient } from '@eventstore/db-client'
import { afterEach, describe, expect, it } from 'vitest'
import { createDevStore } from 'annals/devstore'
import { event, readStream, streamName } from './fixtures.ts'

const annals = fileURLToPath(new URL('../../cli/annals.ts', import.meta.url))
// The repository root, where `--import tsx` resolves.
const root = fileURLToPath(new URL('../..', import.meta.url))
const folders: string[] = []

afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true })
})

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'annals-cli-'))
  folders.push(path)
  return path
}

function run(args: readonly string[], cwd = root) {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', annals, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => stdout.includes('\n') && resolve(stdout.split('\n')[0]!))
    child.once('exit', () => reject(new Error(`exited before printing: ${stderr}`)))
  })
  // A run that is expected to fail never awaits its first line.
  firstLine.catch(() => undefined)
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return { child, firstLine, exited, output: () => ({ stdout, stderr }) }
}

describe('annals devstore', () => {
  it('prints its connection string, serves the client, and stops cleanly on SIGTERM', async () => {
    const cwd = await folder()
    const devstore = run(['devstore', '--port', '0', '--data', join(cwd, 'data')])
    const connectionString = await devstore.firstLine
    expect(connectionString).toMatch(/^esdb:\/\/127\.0\.0\.1:\d+\?tls=false$/)
    const client = EventStoreDBClient.connectionString(connectionString)
    const stream = streamName()
    await client.appendToStream(stream, event())
    expect(await readStream(client, stream)).toHaveLength(1)
    await client.dispose()
    devstore.child.kill('SIGTERM')
    expect(await devstore.exited).toBe(0)
    expect(devstore.output().stderr).toContain(join(cwd, 'data'))
  })

  it('names a port already taken with PORT_IN_USE and exits with 1', async () => {
    const taken = await createDevStore()
    try {
      const devstore = run(['devstore', '--port', String(taken.port), '--data', await folder()])
      expect(await devstore.exited).toBe(1)
      const { stderr } = devstore.output()
      expect(stderr).toContain(
        `annals devstore: PORT_IN_USE: Another process already listens on 127.0.0.1:${taken.port}`,
      )
      expect(stderr).toContain('--port')
      expect(stderr).not.toContain('No address added')
    } finally {
      await taken.close()
    }
  })

  it('serves TLS with development certificates under the data folder, naming the CA in its connection string', async () => {
    const data = join(await folder(), 'data')
    const devstore = run(['devstore', '--tls', '--access-control', '--port', '0', '--data', data])
    const connectionString = await devstore.firstLine
    expect(connectionString).toMatch(/^esdb:\/\/127\.0\.0\.1:\d+\?tls=true&tlsCAFile=/)
    expect(decodeURIComponent(connectionString)).toContain(join(data, 'certs', 'ca.crt'))
    const client = EventStoreDBClient.connectionString(
      connectionString.replace('esdb://', 'esdb://admin:changeit@'),
    )
    const stream = streamName()
    await client.appendToStream(stream, event())
    expect(await readStream(client, stream)).toHaveLength(1)
    await client.dispose()
    devstore.child.kill('SIGTERM')
    expect(await devstore.exited).toBe(0)
    expect(devstore.output().stderr).toContain('TLS, access control on')
  })

  it('refuses --access-control without --tls with a usage error', async () => {
    const devstore = run(['devstore', '--access-control'])
    expect(await devstore.exited).toBe(2)
    expect(devstore.output().stderr).toContain('--access-control needs --tls')
  })

  it('refuses an unknown option with a usage error', async () => {
    const devstore = run(['devstore', '--colour', 'red'])
    expect(await devstore.exited).toBe(2)
    expect(devstore.output().stderr).toContain("unknown option '--colour'")
  })
})
