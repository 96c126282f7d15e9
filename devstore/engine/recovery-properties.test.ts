import { rmSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LOG_FILE } from './open-engine.ts'
import { openEngine } from './open-engine.ts'
import { SYSTEM_EVENTS_ON_CREATE, type Engine, type ExpectedRevision } from './engine.ts'
import { CHECKPOINT_FILE } from './index-checkpoint.ts'
import { many, proposed, tempDir } from '../../test/devstore/engine-builders.fixture.ts'

type Operation =
  | { kind: 'append'; stream: number; expected: 'any' | 'no_stream' | 'exact'; count: number }
  | { kind: 'softDelete' | 'tombstone'; stream: number }
  | { kind: 'maxCount'; stream: number; maxCount: number }

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      stream: fc.nat(3),
      expected: fc.constantFrom('any' as const, 'no_stream' as const, 'exact' as const),
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('softDelete' as const, 'tombstone' as const),
      stream: fc.nat(3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('maxCount' as const),
      stream: fc.nat(3),
      maxCount: fc.integer({ min: 1, max: 3 }),
    }),
  },
)

async function apply(engine: Engine, op: Operation): Promise<void> {
  const stream = `s-${op.stream}`
  if (op.kind === 'append') {
    const current = engine.streamRevision(stream)
    const expected: ExpectedRevision = op.expected === 'exact' ? (current ?? -1n) : op.expected
    await engine.append(stream, expected, many(op.count))
  } else if (op.kind === 'maxCount') {
    await engine.append(`$$${stream}`, 'any', [
      proposed({ type: '$metadata', json: { $maxCount: op.maxCount } }),
    ])
  } else await engine[op.kind](stream, 'any')
}

/** Everything a reader can see: $all, and each stream read both ways. */
async function snapshot(engine: Engine): Promise<unknown> {
  const all = [...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 10_000 }))]
  const streams: Record<string, unknown> = {}
  for (const name of new Set(all.map((event) => event.stream))) {
    for (const direction of ['forwards', 'backwards'] as const) {
      const read = await engine.readStream(name, {
        direction,
        fromRevision: direction === 'forwards' ? 'start' : 'end',
        maxCount: 100,
      })
      streams[`${name} ${direction}`] =
        read.kind === 'ok' ? [...read.events].map((event) => event.revision) : read.kind
    }
  }
  return {
    all: all.map(({ position, id, stream, revision }) => ({ position, id, stream, revision })),
    streams,
    head: engine.headPosition(),
  }
}

describe('recovery properties', () => {
  it('a restart, with or without the index checkpoint, shows exactly what was there', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (operations) => {
        const dir = tempDir()
        try {
          let engine = await openEngine({ dataDir: dir.path })
          for (const op of operations) await apply(engine, op)
          const before = await snapshot(engine)
          await engine.close()
          engine = await openEngine({ dataDir: dir.path })
          expect(await snapshot(engine)).toEqual(before)
          await engine.close()
          rmSync(join(dir.path, CHECKPOINT_FILE))
          engine = await openEngine({ dataDir: dir.path })
          expect(await snapshot(engine)).toEqual(before)
          await engine.close()
        } finally {
          dir.remove()
        }
      }),
      { numRuns: 15 },
    )
  })

  it('a log cut anywhere reopens as a prefix of whole commits of $all', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 15 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (operations, cutAt) => {
          const dir = tempDir()
          try {
            let engine = await openEngine({ dataDir: dir.path })
            for (const op of operations) await apply(engine, op)
            const before = (await snapshot(engine)) as { all: { position: bigint }[] }
            await engine.close()
            rmSync(join(dir.path, CHECKPOINT_FILE))
            const logFile = join(dir.path, LOG_FILE)
            // Cut after the system events: an empty log would be a fresh database with new ones.
            const size = statSync(logFile).size
            const systemEnd = Number(before.all[SYSTEM_EVENTS_ON_CREATE.length]?.position ?? size)
            truncateSync(logFile, Math.floor(systemEnd + (size - systemEnd) * cutAt))
            engine = await openEngine({ dataDir: dir.path })
            const after = (await snapshot(engine)) as { all: unknown[] }
            expect(after.all).toEqual(before.all.slice(0, after.all.length))
            await engine.append('after-cut', 'no_stream', many(1))
            await engine.close()
          } finally {
            dir.remove()
          }
        },
      ),
      { numRuns: 15 },
    )
  })
})
