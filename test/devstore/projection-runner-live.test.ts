import { describe, expect, it, vi } from 'vitest'
import type { Engine } from '../../devstore/engine/engine.ts'
import { openEngine } from '../../devstore/engine/open-engine.ts'
import { ProjectionRunner } from '../../devstore/projections/projection-runner.ts'
import { proposed, readAllOf } from './engine-builders.fixture.ts'

// A system projection on a real in-memory engine whose reads of the log are counted: once caught up it takes
// each commit's events as the engine publishes them, and reads the log only when it cannot be sure they
// follow what it handled.

async function runnerOnCountedEngine() {
  const engine = await openEngine()
  const counts = { logReads: 0 }
  const readAllFrom = engine.readAllFrom.bind(engine)
  engine.readAllFrom = (position, options) => {
    counts.logReads++
    return readAllFrom(position, options)
  }
  const runner = new ProjectionRunner('$by_category', engine)
  const unsubscribe = engine.subscribe((events) => runner.wake(events))
  return {
    engine,
    runner,
    counts,
    close: async () => {
      unsubscribe()
      await runner.stop()
      await engine.close()
    },
  }
}

async function appendOneByOne(engine: Engine, stream: string, count: number): Promise<void> {
  for (let n = 0; n < count; n++) {
    const result = await engine.append(stream, 'any', [proposed({ json: { n } })])
    expect(result.kind).toBe('ok')
  }
}

/** Waits until the runner has handled the whole log (its own links included). */
async function caughtUp(runner: ProjectionRunner): Promise<void> {
  await vi.waitFor(() => expect(runner.caughtUp).toBe(true), { timeout: 5000, interval: 5 })
}

/** The source position of each link in `$ce-<category>`, in the order written. */
async function linkedPositions(engine: Engine, category: string): Promise<number[]> {
  const links = await readAllOf(engine, `$ce-${category}`, { maxCount: 10_000n })
  if (!Array.isArray(links)) return []
  return links.map((link) => (JSON.parse(Buffer.from(link.metadata).toString()) as { $p: number }).$p)
}

/** The positions of the events of `category`'s streams, in log order. */
async function sourcePositions(engine: Engine, category: string): Promise<number[]> {
  const positions: number[] = []
  for await (const event of engine.readAllFrom('start')) {
    if (event.stream.startsWith(`${category}-`)) positions.push(Number(event.position))
  }
  return positions
}

describe('a system projection at the head of the log', () => {
  it("takes each commit's events as published, without reading the log, linking each once and in order", async () => {
    const { engine, runner, counts, close } = await runnerOnCountedEngine()
    try {
      await appendOneByOne(engine, 'order-a', 3)
      runner.start(true)
      await caughtUp(runner)
      const readsWhenCaughtUp = counts.logReads
      for (const stream of ['order-a', 'order-b', 'order-c']) await appendOneByOne(engine, stream, 20)
      await caughtUp(runner)
      expect(counts.logReads).toBe(readsWhenCaughtUp)
      expect(await linkedPositions(engine, 'order')).toEqual(await sourcePositions(engine, 'order'))
      expect(await linkedPositions(engine, 'order')).toHaveLength(63)
    } finally {
      await close()
    }
  })

  it('reads the log for what was committed while it was disabled, then takes commits as published again', async () => {
    const { engine, runner, counts, close } = await runnerOnCountedEngine()
    try {
      runner.start(true)
      await appendOneByOne(engine, 'order-a', 5)
      await caughtUp(runner)
      await runner.disable()
      await appendOneByOne(engine, 'order-b', 10)
      const readsBeforeEnable = counts.logReads
      await runner.enable()
      await caughtUp(runner)
      expect(counts.logReads).toBeGreaterThan(readsBeforeEnable)
      const readsWhenCaughtUp = counts.logReads
      await appendOneByOne(engine, 'order-c', 5)
      await caughtUp(runner)
      expect(counts.logReads).toBe(readsWhenCaughtUp)
      expect(await linkedPositions(engine, 'order')).toEqual(await sourcePositions(engine, 'order'))
      expect(await linkedPositions(engine, 'order')).toHaveLength(20)
    } finally {
      await close()
    }
  })

  it('links an event committed while it wrote the links of what it read from the log', async () => {
    const { engine, runner, close } = await runnerOnCountedEngine()
    try {
      await appendOneByOne(engine, 'order-a', 3)
      // The first links it writes let one more event in before them: a commit after its read ended.
      const append = engine.append.bind(engine)
      let slipped = false
      engine.append = async (stream, expected, events) => {
        if (stream.startsWith('$ce-') && !slipped) {
          slipped = true
          await append('order-b', 'any', [proposed()])
        }
        return append(stream, expected, events)
      }
      runner.start(true)
      await caughtUp(runner)
      expect(slipped).toBe(true)
      expect(await linkedPositions(engine, 'order')).toEqual(await sourcePositions(engine, 'order'))
      expect(await linkedPositions(engine, 'order')).toHaveLength(4)
    } finally {
      await close()
    }
  })

  it('reads the log again after a write of its links failed, so no event goes unlinked', async () => {
    const { engine, runner, close } = await runnerOnCountedEngine()
    try {
      runner.start(true)
      await appendOneByOne(engine, 'order-a', 2)
      await caughtUp(runner)
      const append = engine.append.bind(engine)
      let failed = false
      engine.append = (stream, expected, events) => {
        if (stream.startsWith('$ce-') && !failed) {
          failed = true
          return Promise.reject(new Error('the disk said no'))
        }
        return append(stream, expected, events)
      }
      await appendOneByOne(engine, 'order-b', 1)
      await vi.waitFor(() => expect(failed).toBe(true))
      await appendOneByOne(engine, 'order-c', 1)
      await caughtUp(runner)
      expect(await linkedPositions(engine, 'order')).toEqual(await sourcePositions(engine, 'order'))
      expect(await linkedPositions(engine, 'order')).toHaveLength(4)
    } finally {
      await close()
    }
  })
})
