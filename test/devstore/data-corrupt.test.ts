import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EventStoreDBClient } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { createDevStore } from 'annals/devstore'
import type { CliContext } from '../../cli/cli-command.ts'
import { runCli } from '../../cli/run-cli.ts'
import { errorCodes } from '../../framework/errors.ts'
import { event, streamName, temporaryDataDir } from './fixtures.ts'

// A data directory whose log has a damaged record followed by whole, acknowledged ones is corrupt, not
// torn: the devstore refuses to open it, changes nothing, and says so with the stable code DATA_CORRUPT,
// the file and the offset, whichever way it is started. One test starts the real `annals` process; the
// others run the same command in this process (runCli), since starting a process takes seconds.

const LOG_FILE = 'devstore.log'
// The index checkpoint covers the log it was written for; without it, opening scans (and checks) it all.
const CHECKPOINT_FILE = 'devstore.index'
const annals = fileURLToPath(new URL('../../cli/annals.ts', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))

interface Damaged {
  readonly dataDir: string
  readonly file: string
  /** The offset of the damaged record, and of the valid one after it. */
  readonly badOffset: number
  readonly nextValidOffset: number
  /** The log's bytes once damaged, to check that nothing changes them. */
  readonly bytes: Buffer
}

/** Three appends through the client, then one flipped byte inside the second one's record. */
async function damagedDataDir(): Promise<Damaged> {
  const dataDir = await temporaryDataDir()
  const store = await createDevStore({ dataDir, systemProjections: false })
  const client = EventStoreDBClient.connectionString(store.connectionString)
  const positions: number[] = []
  try {
    for (let n = 0; n < 3; n++) {
      const result = await client.appendToStream(streamName(), event('Happened', { n }))
      positions.push(Number(result.position!.commit))
    }
  } finally {
    await client.dispose()
    await store.close()
  }
  await rm(join(dataDir, CHECKPOINT_FILE), { force: true })
  const file = join(dataDir, LOG_FILE)
  const bytes = await readFile(file)
  const [, badOffset = 0, nextValidOffset = 0] = positions
  bytes[badOffset + 40] = (bytes[badOffset + 40] ?? 0) ^ 0x01
  await writeFile(file, bytes)
  return { dataDir, file, badOffset, nextValidOffset, bytes }
}

/** `annals <args>` in this process: its exit code and what it printed. */
async function runHere(args: readonly string[]) {
  const out = { stdout: '', stderr: '' }
  const context: CliContext = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    env: {},
    cwd: root,
    signal: AbortSignal.abort(),
  }
  return { code: await runCli(args, context), ...out }
}

/** `annals <args>` as a real process. */
function run(args: readonly string[]) {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', annals, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }))
}

describe('a data directory with a damaged record followed by valid ones', () => {
  it('makes createDevStore reject with DATA_CORRUPT, naming the file and the offset, changing nothing', async () => {
    const damaged = await damagedDataDir()
    const error = await createDevStore({ dataDir: damaged.dataDir, systemProjections: false }).then(
      () => expect.fail('the devstore opened a corrupt log'),
      (rejection: unknown) => rejection as Error & Record<string, unknown>,
    )
    expect(error).toMatchObject({
      code: 'DATA_CORRUPT',
      file: damaged.file,
      badOffset: damaged.badOffset,
      nextValidOffset: damaged.nextValidOffset,
    })
    expect(error.message).toContain(damaged.file)
    expect(error.message).toContain(`offset ${damaged.badOffset}`)
    expect((await readFile(damaged.file)).equals(damaged.bytes)).toBe(true)
    // It released the directory: a second attempt fails the same way, not with DATA_DIR_LOCKED.
    await expect(
      createDevStore({ dataDir: damaged.dataDir, systemProjections: false }),
    ).rejects.toMatchObject({
      code: 'DATA_CORRUPT',
    })
  })

  it('makes the `annals devstore` process exit with 1, printing the code, the file, the offset and what to do', async () => {
    const damaged = await damagedDataDir()
    const { code, stdout, stderr } = await run(['devstore', '--port', '0', '--data', damaged.dataDir])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toContain(`annals devstore: DATA_CORRUPT: The devstore log ${damaged.file}`)
    expect(stderr).toContain(`damaged record at offset ${damaged.badOffset}`)
    expect(stderr).toContain('Restore it from a backup')
    expect((await readFile(damaged.file)).equals(damaged.bytes)).toBe(true)
  })

  it('uses a code that framework/errors.ts lists', () => {
    expect(errorCodes).toHaveProperty('DATA_CORRUPT')
  })
})

describe('a data directory another devstore holds', () => {
  it('makes `annals devstore` exit with 1, printing DATA_DIR_LOCKED and the process', async () => {
    const dataDir = await temporaryDataDir()
    const holder = await createDevStore({ dataDir, systemProjections: false })
    try {
      const { code, stderr } = await runHere(['devstore', '--port', '0', '--data', dataDir])
      expect(code).toBe(1)
      expect(stderr).toContain(`annals devstore: DATA_DIR_LOCKED: The devstore data directory ${dataDir}`)
      expect(stderr).toContain(`process ${process.pid}`)
    } finally {
      await holder.close()
    }
  })
})
