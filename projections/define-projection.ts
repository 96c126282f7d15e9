import type { z } from 'zod'
import {
  AnnalsError,
  type AggregateDefinition,
  type AnyAggregate,
  type DomainEvent,
  type EventMap,
  type RecordedEvent,
} from '../framework/index.ts'
import type { RetryPolicy } from './retry-policy.ts'

/** The events of one aggregate, or of a union of aggregates, as handlers see them: parsed and typed. */
export type AggregateEvent<TAggregate> =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  TAggregate extends AggregateDefinition<string, any, infer TEvents extends EventMap, any>
    ? DomainEvent<TEvents>
    : never

/** What a projection handler knows about the event besides its data. */
export interface ProjectionEventContext {
  /** The row the handler writes: the aggregate id unless the handler names another key. */
  readonly key: string
  /** The aggregate id, from the stream name `${aggregate}-${id}`. */
  readonly aggregateId: string
  readonly aggregate: string
  readonly streamName: string
  readonly eventId: string
  readonly position: bigint
  readonly revision: bigint
  readonly createdAt: Date
  readonly metadata: Readonly<Record<string, unknown>>
}

/** Maps the current row (or undefined) and an event to the new row; `null` deletes, `undefined` keeps. */
export type ProjectionHandler<TRow, TEvent> = (
  row: TRow | undefined,
  event: TEvent,
  context: ProjectionEventContext,
) => TRow | null | undefined

/** A handler for an event that writes a row other than its aggregate's (fan-in, e.g. one row per site). */
export interface KeyedProjectionHandler<TRow, TEvent> {
  readonly key: (event: TEvent, context: Omit<ProjectionEventContext, 'key'>) => string
  readonly handle: ProjectionHandler<TRow, TEvent>
}

export type ProjectionHandlers<TRow, TEvent extends { readonly type: string }> = {
  readonly [K in TEvent['type']]?:
    | ProjectionHandler<TRow, Extract<TEvent, { type: K }>>
    | KeyedProjectionHandler<TRow, Extract<TEvent, { type: K }>>
}

export interface ProjectionConfig<
  TName extends string,
  TRowSchema extends z.ZodObject,
  TAggregates extends readonly AnyAggregate[],
  TRow = z.output<TRowSchema>,
> {
  readonly name: TName
  readonly description?: string
  /** The row schema; the GraphQL type and filters derive from it. */
  readonly row: TRowSchema
  /** The field that keys a row; its value is the row's key. */
  readonly key: keyof z.output<TRowSchema> & string
  readonly from: TAggregates
  /** Bump it when handlers change meaning: the model is rebuilt in a shadow copy. Default 1. */
  readonly version?: number
  /** Fields with a hash index, so filters on them do not scan every row. */
  readonly indexes?: readonly (keyof z.output<TRowSchema> & string)[]
  readonly handlers: ProjectionHandlers<TRow, AggregateEvent<TAggregates[number]>>
  /** Validate each row against the schema; defaults to on unless NODE_ENV is 'production'. */
  readonly validateRows?: boolean
  /** How a failing handler is retried before its event goes to the dead letters. */
  readonly retry?: Partial<RetryPolicy>
  /** How many recent changes the change feed keeps for resuming clients. Default 10,000. */
  readonly changeRetention?: number
  /**
   * How many bytes of rows (their approximate JSON size) the change feed keeps in memory, whichever bound
   * comes first. Default 16 MiB.
   */
  readonly changeRetentionBytes?: number
}

/** One event made ready for a handler: parsed, routed to its handler and key. */
export interface RoutedEvent<TRow = Record<string, unknown>> {
  readonly key: string
  readonly event: { readonly type: string; readonly data: unknown }
  readonly context: ProjectionEventContext
  readonly handle: ProjectionHandler<TRow, { readonly type: string; readonly data: unknown }>
}

export interface ProjectionDefinition<TRow = Record<string, unknown>> {
  readonly kind: 'projection'
  readonly name: string
  readonly description?: string
  readonly schema: z.ZodObject
  readonly key: string
  /** The aggregates whose events it reads. */
  readonly from: readonly AnyAggregate[]
  readonly version: number
  readonly indexes: readonly string[]
  readonly eventTypes: readonly string[]
  readonly validateRows: boolean
  readonly retry: Partial<RetryPolicy>
  readonly changeRetention: number
  readonly changeRetentionBytes: number
  /** Whether an event is one this projection handles (by type and aggregate), before parsing it. */
  handles(event: RecordedEvent): boolean
  /** Parses and routes an event; undefined for one it does not handle; throws when it cannot be parsed or keyed. */
  route(event: RecordedEvent): RoutedEvent<TRow> | undefined
  /** The aggregate id an event belongs to, from its stream name. */
  aggregateIdOf(event: RecordedEvent): string
}

interface HandlerEntry {
  readonly aggregate: AnyAggregate
  /** The aggregate's stream-name prefix, `${name}-`. */
  readonly prefix: string
  readonly handler: ProjectionHandler<never, never> | KeyedProjectionHandler<never, never>
}

/**
 * Declares a read model: a zod row schema, its key, the aggregates it reads, and one handler per event type
 * that folds the event into a row. Handlers are pure and typed from the aggregates' event schemas.
 *
 * @example
 * const BatteryStatus = defineProjection({
 *   name: 'batteryStatus',
 *   row: z.object({ batteryId: z.string(), siteId: z.string(), charge: z.number() }),
 *   key: 'batteryId',
 *   from: [Battery],
 *   indexes: ['siteId'],
 *   handlers: {
 *     BatteryInstalled: (_row, { data }, { key }) => ({ batteryId: key, siteId: data.siteId, charge: 0 }),
 *     ChargeReported: (row, { data }) => row && { ...row, charge: data.percent },
 *     BatteryRemoved: () => null,
 *   },
 * })
 */
export function defineProjection<
  const TName extends string,
  TRowSchema extends z.ZodObject,
  const TAggregates extends readonly AnyAggregate[],
  // Inferred from the row schema as const, so literal fields (status: 'idle') that handlers return keep their type.
  const TRow,
>(
  config: ProjectionConfig<TName, TRowSchema, TAggregates, TRow> & { readonly row: z.ZodType<TRow> },
): ProjectionDefinition<TRow> {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(config.name)) {
    throw new AnnalsError('BAD_CONFIG', `Projection name "${config.name}" must be an identifier`)
  }
  const fields = Object.keys(config.row.shape)
  for (const field of [config.key, ...(config.indexes ?? [])]) {
    if (!fields.includes(field)) {
      throw new AnnalsError('BAD_CONFIG', `Projection ${config.name}: the row has no field "${field}"`)
    }
  }
  const entries = new Map<string, HandlerEntry[]>()
  const handlers = config.handlers as Record<string, HandlerEntry['handler'] | undefined>
  for (const [type, handler] of Object.entries(handlers)) {
    if (handler === undefined) continue
    const owners = config.from.filter((aggregate) => type in aggregate.events)
    if (owners.length === 0) {
      throw new AnnalsError(
        'BAD_CONFIG',
        `Projection ${config.name}: no aggregate in "from" declares ${type}`,
      )
    }
    entries.set(
      type,
      owners.map((aggregate) => ({ aggregate, prefix: `${aggregate.name}-`, handler })),
    )
  }

  const entryOf = (event: RecordedEvent): HandlerEntry | undefined => {
    const candidates = entries.get(event.type)
    if (candidates === undefined) return undefined
    for (const entry of candidates) if (event.streamName.startsWith(entry.prefix)) return entry
    return undefined
  }

  const aggregateIdOf = (event: RecordedEvent): string => {
    const entry = entryOf(event)
    return entry ? event.streamName.slice(entry.prefix.length) : event.streamName
  }

  const definition: ProjectionDefinition<TRow> = {
    kind: 'projection',
    name: config.name,
    ...(config.description === undefined ? {} : { description: config.description }),
    schema: config.row,
    key: config.key,
    from: config.from,
    version: config.version ?? 1,
    indexes: config.indexes ?? [],
    eventTypes: [...entries.keys()],
    validateRows: config.validateRows ?? process.env.NODE_ENV !== 'production',
    retry: config.retry ?? {},
    changeRetention: config.changeRetention ?? 10_000,
    changeRetentionBytes: config.changeRetentionBytes ?? 16 * 2 ** 20,
    handles: (event) => entryOf(event) !== undefined,
    aggregateIdOf,
    route: (recorded) => {
      const entry = entryOf(recorded)
      if (!entry) return undefined
      const event = entry.aggregate.parseStoredEvent(recorded)
      const aggregateId = recorded.streamName.slice(entry.prefix.length)
      const context = {
        key: aggregateId,
        aggregateId,
        aggregate: entry.aggregate.name,
        streamName: recorded.streamName,
        eventId: recorded.id,
        position: recorded.position,
        revision: recorded.revision,
        createdAt: recorded.createdAt,
        metadata: recorded.metadata,
      }
      const handler = entry.handler as unknown as
        ProjectionHandler<TRow, typeof event> | KeyedProjectionHandler<TRow, typeof event>
      if (typeof handler === 'function') return { key: aggregateId, event, context, handle: handler }
      const key = handler.key(event, context)
      if (typeof key !== 'string' || key === '') {
        throw new AnnalsError('INTERNAL', `${config.name}: the key of ${recorded.type} is not a string`)
      }
      context.key = key
      return { key, event, context, handle: handler.handle }
    },
  }
  return definition
}
