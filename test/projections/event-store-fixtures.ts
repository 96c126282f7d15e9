import { createHash, randomUUID } from 'node:crypto'
import type { CommandBus, CommandEnvelope, CommandResult } from '../../framework/command/command-bus.ts'
import { OverloadedError, StoreUnavailableError } from '../../framework/errors.ts'
import type {
  EventStore,
  RecordedEvent,
  SubscriptionMessage,
} from '../../framework/event-store/event-store.ts'

/**
 * A bus in front of `bus` that refuses its first `refusals` commands with OVERLOADED, as a saturated replica
 * does, then fails the next `failures` with an error of the handler's own, then passes the rest on.
 */
export function saturatedThenFlaky(bus: CommandBus, refusals: number, failures: number) {
  const left = { refusals, failures }
  const saturated: CommandBus = {
    execute(envelope) {
      if (left.refusals-- > 0) return Promise.reject(new OverloadedError('This replica', 16, 1_000))
      if (left.failures-- > 0) return Promise.reject(new Error('the battery did not answer'))
      return bus.execute(envelope)
    },
  }
  return { bus: saturated, left }
}

/** A command bus that appends one event per command with ids derived from the command id, as the pipeline does. */
export function createTestCommandBus(
  store: EventStore,
): CommandBus & { readonly executed: CommandEnvelope[] } {
  const executed: CommandEnvelope[] = []
  return {
    executed,
    async execute(envelope): Promise<CommandResult> {
      executed.push(envelope)
      const commandId = envelope.commandId ?? randomUUID()
      const type = envelope.command === 'orderDischarge' ? 'DischargeOrdered' : envelope.command
      const id = uuidFrom(`${commandId}/0`)
      const result = await store.appendToStream(`${envelope.aggregate}-${envelope.aggregateId}`, [
        { id, type, data: envelope.input },
      ])
      const event = {
        id,
        type,
        data: envelope.input,
        revision: result.nextRevision,
        position: result.position,
      }
      return {
        aggregateId: envelope.aggregateId,
        commandId,
        revision: result.nextRevision,
        events: [event],
        position: result.position,
      }
    },
  }
}

/** Every event of `$all`, in log order. */
export async function collectAll(store: EventStore): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = []
  for await (const event of store.readAll()) all.push(event)
  return all
}

/** Wraps a store so that a test can make the next subscriptions fail, as an unreachable store would. */
export function withUnavailableSubscriptions(
  store: EventStore,
): EventStore & { failNextSubscribes(n: number): void } {
  let failures = 0
  return {
    ...store,
    appendToStream: store.appendToStream.bind(store),
    readStream: store.readStream.bind(store),
    readAll: store.readAll.bind(store),
    headPosition: store.headPosition.bind(store),
    getStreamMetadata: store.getStreamMetadata.bind(store),
    setStreamMetadata: store.setStreamMetadata.bind(store),
    close: store.close.bind(store),
    subscribeToAll(options) {
      if (failures > 0) {
        failures--
        const refused: AsyncIterable<SubscriptionMessage> = {
          [Symbol.asyncIterator]: () => ({
            next: () => Promise.reject(new StoreUnavailableError('the store is unavailable (injected)')),
          }),
        }
        return refused
      }
      return store.subscribeToAll(options)
    },
    failNextSubscribes(n) {
      failures = n
    },
  }
}

function uuidFrom(name: string): string {
  const hex = createHash('sha1').update(name).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}
