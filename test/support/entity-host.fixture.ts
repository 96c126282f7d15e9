import { randomUUID } from 'node:crypto'
import { afterEach } from 'vitest'
import { Counter } from '../cluster/fixtures/counter.ts'
import { ConcurrencyConflictError } from '../../framework/errors.ts'
import type { EventStore, RecordedEvent } from '../../framework/event-store/event-store.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { AnyAggregate } from '../../framework/aggregate/define-aggregate.ts'
import type { CommandEnvelope, CommandResult } from '../../framework/command/command-bus.ts'
import {
  createEntityHost,
  type EntityHost,
  type EntityHostOptions,
  type Ownership,
} from '../../framework/command/entity-host.ts'
import { validateCommand } from '../../framework/command/validate-command.ts'

/**
 * An in-memory store that counts stream reads, and can be told to refuse every append as a conflict, to fail
 * the next append, or to fail every read until told otherwise.
 */
export function countingStore() {
  const inner = createInMemoryEventStore()
  const counts = { reads: 0, appends: 0, conflicts: 0 }
  const appendSizes: number[] = []
  let conflictAlways = false
  let failNext: Error | undefined
  let readsFail: Error | undefined
  const store: EventStore = {
    ...inner,
    async appendToStream(name, events, options) {
      if (!name.startsWith('annals-snapshot')) {
        counts.appends++
        appendSizes.push(events.reduce((sum, e) => sum + bytesOf(e.data) + bytesOf(e.metadata ?? {}), 0))
      }
      const failure = failNext
      failNext = undefined
      if (failure) throw failure
      if (conflictAlways) throw new ConcurrencyConflictError(name, 0n, 1n)
      try {
        return await inner.appendToStream(name, events, options)
      } catch (error) {
        if (error instanceof ConcurrencyConflictError) counts.conflicts++
        throw error
      }
    },
    readStream(name, options) {
      if (!name.startsWith('annals-snapshot')) counts.reads++
      const failure = readsFail
      // A read that fails before its first event, as a down store's does.
      if (failure) return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(failure) }) }
      return inner.readStream(name, options)
    },
  }
  return {
    store,
    inner,
    counts,
    appendSizes,
    conflictAlways: () => (conflictAlways = true),
    failNextAppend: (error: Error) => (failNext = error),
    failReads: (error: Error | undefined) => (readsFail = error),
  }
}

/** An entity host that validates the envelopes it is given, as the bus does before handing them over. */
export interface TestHost extends Omit<EntityHost, 'execute'> {
  execute(envelope: CommandEnvelope & { commandId: string }, ownership?: Ownership): Promise<CommandResult>
}

/** Gives `hostOn(store, overrides)`, which hosts the Counter on a store; every host is closed after its test. */
export function entityHostsClosedAfterEach() {
  const hosts: EntityHost[] = []
  afterEach(() => hosts.splice(0).forEach((h) => h.close()))
  return function hostOn(
    store: EventStore,
    overrides: Partial<EntityHostOptions> & { aggregates?: readonly AnyAggregate[] } = {},
  ): TestHost {
    const { aggregates = [Counter], ...options } = overrides
    const host = createEntityHost({ store, ...options })
    hosts.push(host)
    const byName = new Map(aggregates.map((aggregate) => [aggregate.name, aggregate]))
    return {
      ...host,
      execute: async (envelope, ownership) =>
        host.execute(await validateCommand(byName, envelope, envelope.commandId), ownership),
    }
  }
}

export const codeOf = (error: unknown) => (error as { code?: unknown }).code

export const increment = (aggregateId: string, by = 1, commandId = randomUUID()) => ({
  aggregate: 'Counter',
  command: 'increment',
  aggregateId,
  input: { by },
  commandId,
})

export const refuse = (aggregateId: string, commandId = randomUUID()) => ({
  aggregate: 'Counter',
  command: 'refuse',
  aggregateId,
  input: {},
  commandId,
})

export const check = (aggregateId: string, value: number, increments: number) => ({
  aggregate: 'Counter',
  command: 'check',
  aggregateId,
  input: { value, increments },
  commandId: randomUUID(),
})

/** The Counter's value folded from its stream, and the revisions it was folded from. */
export async function valueOf(store: EventStore, id: string) {
  let value = 0
  const revisions: bigint[] = []
  for await (const e of store.readStream(Counter.streamName(id))) {
    value += (e.data as { by: number }).by
    revisions.push(e.revision)
  }
  return { value, revisions }
}

export async function storedOf(store: EventStore, stream: string) {
  const events: RecordedEvent[] = []
  for await (const e of store.readStream(stream)) events.push(e)
  return events
}

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value))
