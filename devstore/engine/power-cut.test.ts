import { copyFileSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { many, tempDir } from '../../test/devstore/engine-builders.fixture.ts'
import { cutModes, PowerCutFileSystem } from '../../test/devstore/power-cut-file-system.fixture.ts'
import type { Engine } from './engine.ts'
import { CHECKPOINT_FILE } from './index-checkpoint.ts'
import { LOG_FILE, openEngine } from './open-engine.ts'

// The promise of docs/devstore.md: an acknowledged append survives the machine losing power. The log runs on
// a file system that keeps only what was synced; the power is cut at a different operation each round, under
// concurrent appends, and what was written but not synced is dropped or torn. The engine reopened on what
// the disk holds must have every acknowledged event, at its revision and position, and no half of an append.

const CUT_POINTS = 60
const WRITERS = 4

interface Attempt {
  readonly stream: string
  readonly ids: readonly string[]
  /** Set once acknowledged. */
  acknowledged?: { readonly firstRevision: bigint; readonly position: bigint }
}

describe('the file log at a power cut', () => {
  it('keeps every acknowledged append whole, at its revision and position, at many cut points', async () => {
    const random = seededRandom(0x5eed)
    let acknowledged = 0
    for (let round = 0; round < CUT_POINTS; round++) {
      const mode = cutModes[round % cutModes.length]!
      const before = tempDir()
      const after = tempDir()
      try {
        // Past the writes of the fresh log's system events, so each round starts from a log that opened.
        const cutAt = 3 + Math.floor(random() * 150)
        const fileSystem = new PowerCutFileSystem(join(before.path, LOG_FILE), cutAt)
        const engine = await openEngine({ dataDir: before.path, fileSystem })
        const attempts = await stormUntilThePowerGoes(engine)
        await engine.close()
        expect(fileSystem.isCut).toBe(true)
        writeFileSync(join(after.path, LOG_FILE), fileSystem.diskImage(mode, random))
        // The index checkpoint is fsynced before it is renamed into place: the real file is what the disk holds.
        if (existsSync(join(before.path, CHECKPOINT_FILE)))
          copyFileSync(join(before.path, CHECKPOINT_FILE), join(after.path, CHECKPOINT_FILE))
        const reopened = await openEngine({ dataDir: after.path })
        try {
          await expectSurvivors(reopened, attempts, `round ${round}, cut at operation ${cutAt}, ${mode}`)
        } finally {
          await reopened.close()
        }
        acknowledged += attempts.filter((attempt) => attempt.acknowledged !== undefined).length
      } finally {
        before.remove()
        after.remove()
      }
    }
    // The storms must have been acknowledged often enough for the check to mean something.
    expect(acknowledged).toBeGreaterThan(CUT_POINTS * 5)
  })
})

/** Concurrent appends of 1-4 events to a few streams, until the log fails under them. */
async function stormUntilThePowerGoes(engine: Engine): Promise<Attempt[]> {
  const attempts: Attempt[] = []
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      for (let turn = 0; ; turn++) {
        const events = many(1 + ((turn + writer) % 4))
        const attempt: Attempt = {
          stream: `storm-${writer}-${turn % 3}`,
          ids: events.map((event) => event.id),
        }
        attempts.push(attempt)
        try {
          const result = await engine.append(attempt.stream, 'any', events)
          if (result.kind !== 'ok') throw new Error(`unexpected ${result.kind}`)
          attempt.acknowledged = { firstRevision: result.firstRevision, position: result.position }
        } catch {
          return
        }
      }
    }),
  )
  return attempts
}

/** Every acknowledged append is there as acknowledged; every append is there whole or not at all. */
async function expectSurvivors(engine: Engine, attempts: readonly Attempt[], where: string): Promise<void> {
  const streams = new Map<string, { id: string; revision: bigint; position: bigint }[]>()
  for (const stream of new Set(attempts.map((attempt) => attempt.stream))) {
    const read = await engine.readStream(stream, {
      direction: 'forwards',
      fromRevision: 'start',
      maxCount: 1e6,
    })
    const events = read.kind === 'ok' ? [...read.events] : []
    expect(
      events.map((event) => event.revision),
      where,
    ).toEqual(events.map((_, index) => BigInt(index)))
    streams.set(stream, events)
  }
  for (const attempt of attempts) {
    const stored = streams.get(attempt.stream) ?? []
    const found = attempt.ids.map((id) => stored.find((event) => event.id === id))
    expect(
      found.every((event) => event === undefined) || found.every((event) => event !== undefined),
      where,
    ).toBe(true)
    if (attempt.acknowledged === undefined) continue
    const { firstRevision, position } = attempt.acknowledged
    expect(
      found.map((event) => event?.revision),
      `${where}: an acknowledged append of ${attempt.stream}`,
    ).toEqual(attempt.ids.map((_, index) => firstRevision + BigInt(index)))
    expect(found.at(-1)?.position, where).toBe(position)
  }
}

// mulberry32: the same cut points and tears on every run.
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
