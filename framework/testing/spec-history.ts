import { randomUUID } from 'node:crypto'
import { SCHEMA_VERSION_KEY, type AnyAggregate } from '../aggregate/define-aggregate.ts'
import { AnnalsError } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'

/** An event of the history a spec (of a projection, a workflow, or the GraphQL gateway) starts from. */
export interface SpecEvent {
  /** The aggregate the event belongs to; default the first of the definition's `from` that declares its type. */
  readonly aggregate?: AnyAggregate | string
  readonly aggregateId: string
  readonly type: string
  readonly data: unknown
  /** When it happens: its `createdAt`, and for a workflow the time the clock moves to first. Default: the time before. */
  readonly at?: Date
}

/** The time a spec's history happens at unless told: fixed, so specs are repeatable. */
export const SPEC_START = new Date('2026-01-01T00:00:00Z')

/**
 * Appends one given event as the command bus would: to its aggregate's stream, with the schema version its
 * aggregate declares for the type. `from` is where the spec looks for the aggregate; `owner` names it in errors.
 */
export async function appendSpecEvent(
  store: EventStore,
  from: readonly AnyAggregate[],
  owner: string,
  event: SpecEvent,
): Promise<bigint> {
  const aggregate = aggregateOf(from, owner, event)
  const stream =
    typeof aggregate === 'string'
      ? `${aggregate}-${event.aggregateId}`
      : aggregate.streamName(event.aggregateId)
  const version = typeof aggregate === 'string' ? 1 : aggregate.eventVersion(event.type)
  const result = await store.appendToStream(stream, [
    { id: randomUUID(), type: event.type, data: event.data, metadata: { [SCHEMA_VERSION_KEY]: version } },
  ])
  return result.position
}

function aggregateOf(from: readonly AnyAggregate[], owner: string, event: SpecEvent): AnyAggregate | string {
  const named = typeof event.aggregate === 'string' ? event.aggregate : event.aggregate?.name
  const declaring = from.find((aggregate) =>
    named === undefined ? event.type in aggregate.events : aggregate.name === named,
  )
  if (declaring) return declaring
  if (named !== undefined) return named
  throw new AnnalsError('BAD_CONFIG', `No aggregate of ${owner} declares ${event.type}`)
}
