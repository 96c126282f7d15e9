import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { counterAggregate } from '../../test/support/counter.fixture.ts'
import { ConcurrencyConflictError } from '../errors.ts'
import type { EventStore, RecordedEvent } from '../event-store/event-store.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { executeCommandGroup, type CommandOutcome } from './execute-command-group.ts'
import { loadAggregate } from './load-aggregate.ts'
import { commandDefinition } from './validate-command.ts'

const Counter = counterAggregate()
/** A command as the bus hands it over: its declaration found and its input already parsed. */
const command = (name: string, input: unknown = {}) => ({
  command: name,
  definition: commandDefinition(Counter, name),
  input,
  commandId: randomUUID(),
})
const fresh = { state: Counter.initial('c-1'), revision: -1n }

async function streamOf(store: ReturnType<typeof createInMemoryEventStore>) {
  const events: RecordedEvent[] = []
  for await (const event of store.readStream(Counter.streamName('c-1'))) events.push(event)
  return events
}

const summary = (outcome: CommandOutcome) =>
  outcome.ok ? outcome.result.revision : (outcome.error as { code: string }).code

describe('executeCommandGroup', () => {
  it('decides each command on the state the ones before it left, and appends once', async () => {
    const store = createInMemoryEventStore()
    const commands = [
      command('increment', { by: 2 }),
      command('lock', { reason: 'r' }),
      command('increment', { by: 1 }),
    ]
    const group = await executeCommandGroup({ store, aggregate: Counter, id: 'c-1', loaded: fresh, commands })
    if (!group.appended) throw new Error('the group append failed')
    expect((await group.outcomes).map(summary)).toEqual([0n, 1n, 'COUNTER_LOCKED'])
    expect(group.loaded.state).toEqual({ value: 2, locked: true, steps: 2 })
    expect(group.loaded.revision).toBe(1n)
    expect(await loadAggregate(store, Counter, 'c-1')).toMatchObject({
      state: group.loaded.state,
      revision: 1n,
    })
  })

  it('reports each event of each command with its own revision and position', async () => {
    const store = createInMemoryEventStore()
    const commands = [
      command('incrementTwice', { by: 1 }),
      command('noteNothing'),
      command('increment', { by: 5 }),
    ]
    const group = await executeCommandGroup({ store, aggregate: Counter, id: 'c-1', loaded: fresh, commands })
    if (!group.appended) throw new Error('the group append failed')
    const stored = await streamOf(store)
    const [twice, nothing, once] = (await group.outcomes).map((o) => (o.ok ? o.result : undefined))
    expect(twice!.events.map((e) => [e.revision, e.position])).toEqual([
      [0n, stored[0]!.position],
      [1n, stored[1]!.position],
    ])
    expect(twice!.position).toBe(stored[1]!.position)
    expect(nothing).toMatchObject({ revision: 1n, events: [], position: 0n })
    expect(once).toMatchObject({ revision: 2n, position: stored[2]!.position })
  })

  it('reads the positions back when the store replies with the last one only', async () => {
    const store = createInMemoryEventStore()
    const lastOnly: EventStore = {
      ...store,
      async appendToStream(name, events, options) {
        const { nextRevision, position } = await store.appendToStream(name, events, options)
        return { nextRevision, position }
      },
    }
    const commands = [command('incrementTwice', { by: 1 }), command('increment', { by: 5 })]
    const group = await executeCommandGroup({
      store: lastOnly,
      aggregate: Counter,
      id: 'c-1',
      loaded: fresh,
      commands,
    })
    if (!group.appended) throw new Error('the group append failed')
    const stored = await streamOf(store)
    const results = (await group.outcomes).map((o) => (o.ok ? o.result : undefined))
    expect(results.flatMap((result) => result!.events.map((e) => e.position))).toEqual(
      stored.map((event) => event.position),
    )
  })

  it('takes only the commands whose events fit in one append', async () => {
    const store = createInMemoryEventStore()
    const commands = Array.from({ length: 5 }, () => command('lock', { reason: 'x'.repeat(100) }))
    const group = await executeCommandGroup({
      store,
      aggregate: Counter,
      id: 'c-1',
      loaded: { state: { value: 0, locked: false, steps: 0 }, revision: -1n },
      commands,
      maxAppendBytes: 2500,
    })
    expect(group.taken).toBeGreaterThan(0)
    expect(group.taken).toBeLessThan(5)
    expect((await streamOf(store)).length).toBe(group.taken)
  })

  it('on a failed append, answers only the commands decided before the first that emitted events', async () => {
    const store = createInMemoryEventStore()
    await store.appendToStream(Counter.streamName('c-1'), [
      { id: randomUUID(), type: 'Noted', data: { text: '' } },
    ])
    const commands = [
      command('lock', { reason: '' }),
      command('increment', { by: 1 }),
      command('noteNothing'),
    ]
    const group = await executeCommandGroup({ store, aggregate: Counter, id: 'c-1', loaded: fresh, commands })
    if (group.appended) throw new Error('the append should have conflicted')
    expect(group.error).toBeInstanceOf(ConcurrencyConflictError)
    expect(group.taken).toBe(3)
    expect(group.settled.map(summary)).toEqual(['INVALID_EVENT'])
    expect((await streamOf(store)).length).toBe(1)
  })
})
