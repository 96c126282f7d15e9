import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { counterAggregate } from '../aggregate/counter.fixture.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import type { RecordedEvent } from '../event-store/event-store.ts'
import { deriveEventId } from './derive-event-id.ts'
import { executeCommand } from './execute-command.ts'

const Counter = counterAggregate()

async function streamOf(store: ReturnType<typeof createInMemoryEventStore>, id = 'c-1') {
  const events: RecordedEvent[] = []
  for await (const event of store.readStream(Counter.streamName(id))) events.push(event)
  return events
}

function run(store: ReturnType<typeof createInMemoryEventStore>, command: string, input: unknown) {
  return executeCommand({ store, aggregate: Counter, id: 'c-1', command, input, commandId: randomUUID() })
}

describe('executeCommand', () => {
  it('appends the decided event and returns the new state, revision and consistency token', async () => {
    const store = createInMemoryEventStore()
    const { result, state, revision } = await run(store, 'increment', { by: 2 })
    const [stored] = await streamOf(store)
    expect(state).toEqual({ value: 2, locked: false, steps: 1 })
    expect(revision).toBe(0n)
    expect(result).toEqual({
      aggregateId: 'c-1',
      commandId: result.commandId,
      revision: 0n,
      events: [
        { id: stored!.id, type: 'Incremented', data: { by: 2 }, revision: 0n, position: stored!.position },
      ],
      position: stored!.position,
    })
  })

  it('stores the schema version and the command id in each event, with ids derived from the command id', async () => {
    const store = createInMemoryEventStore()
    const commandId = randomUUID()
    await executeCommand({
      store,
      aggregate: Counter,
      id: 'c-1',
      command: 'incrementTwice',
      input: { by: 1 },
      commandId,
    })
    const events = await streamOf(store)
    expect(events.map((e) => e.id)).toEqual([deriveEventId(commandId, 0), deriveEventId(commandId, 1)])
    expect(events.map((e) => e.metadata)).toEqual([
      { schemaVersion: 2, commandId },
      { schemaVersion: 2, commandId },
    ])
  })

  it('reports each event of a multi-event command with its own position', async () => {
    const store = createInMemoryEventStore()
    const { result } = await run(store, 'incrementTwice', { by: 1 })
    const events = await streamOf(store)
    expect(result.events.map((e) => [e.revision, e.position])).toEqual(
      events.map((e) => [e.revision, e.position]),
    )
    expect(result.position).toBe(events[1]!.position)
  })

  it('refuses bad input with BAD_INPUT and the zod issues, and appends nothing', async () => {
    const store = createInMemoryEventStore()
    const refused = run(store, 'increment', { by: -1 })
    await expect(refused).rejects.toMatchObject({
      code: 'BAD_INPUT',
      details: { issues: [expect.objectContaining({ path: ['by'] })] },
    })
    expect(await streamOf(store)).toEqual([])
  })

  it('refuses a command the aggregate does not declare with UNKNOWN_COMMAND', async () => {
    const store = createInMemoryEventStore()
    await expect(run(store, 'toString', {})).rejects.toMatchObject({ code: 'UNKNOWN_COMMAND' })
  })

  it('keeps the code of a domain error and appends nothing', async () => {
    const store = createInMemoryEventStore()
    await run(store, 'lock', { reason: 'maintenance' })
    await expect(run(store, 'increment', { by: 1 })).rejects.toMatchObject({ code: 'COUNTER_LOCKED' })
    expect(await streamOf(store)).toHaveLength(1)
  })

  it('refuses an event that fails its schema with INVALID_EVENT and appends nothing', async () => {
    const store = createInMemoryEventStore()
    await expect(run(store, 'lock', { reason: '' })).rejects.toMatchObject({ code: 'INVALID_EVENT' })
    expect(await streamOf(store)).toEqual([])
  })

  it('appends nothing when decide returns no events', async () => {
    const store = createInMemoryEventStore()
    const { result } = await run(store, 'noteNothing', {})
    expect(result).toMatchObject({ revision: -1n, events: [], position: 0n })
    expect(await store.headPosition()).toBe(0n)
  })

  it('decides on the state passed as loaded without reading, fenced by its revision', async () => {
    const store = createInMemoryEventStore()
    const first = await run(store, 'increment', { by: 1 })
    const second = await executeCommand({
      store,
      aggregate: Counter,
      id: 'c-1',
      command: 'increment',
      input: { by: 1 },
      commandId: randomUUID(),
      loaded: first,
    })
    expect(second.state.value).toBe(2)
    const stale = executeCommand({
      store,
      aggregate: Counter,
      id: 'c-1',
      command: 'increment',
      input: { by: 1 },
      commandId: randomUUID(),
      loaded: first,
    })
    await expect(stale).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' })
  })

  it('answers a command id it already applied with the original result, appending nothing', async () => {
    const store = createInMemoryEventStore()
    const commandId = randomUUID()
    const options = {
      store,
      aggregate: Counter,
      id: 'c-1',
      command: 'increment',
      input: { by: 1 },
      commandId,
    }
    const first = await executeCommand(options)
    await run(store, 'increment', { by: 5 })
    const again = await executeCommand(options)
    expect(again.result).toEqual(first.result)
    expect(again.state.value).toBe(6)
    expect(await streamOf(store)).toHaveLength(2)
  })
})
