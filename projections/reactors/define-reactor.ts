import {
  AnnalsError,
  type AnyAggregate,
  type CommandResult,
  type ReadModelSource,
  type RecordedEvent,
} from '../../framework/index.ts'
import type { AggregateEvent } from '../define-projection.ts'
import { partitionOf } from '../partition-of.ts'
import type { RetryPolicy } from '../retry-policy.ts'

/** A command a reactor sends; its id is derived from the event, so a repeated delivery appends nothing twice. */
export interface ReactorCommand {
  /** The aggregate, or its type name. */
  readonly aggregate: AnyAggregate | string
  readonly command: string
  readonly aggregateId: string
  readonly input: unknown
}

export interface ReactorContext extends CommandScheduling {
  /** Sends a command through the command bus with an id derived from this event and the call's index. */
  send(command: ReactorCommand): Promise<CommandResult>
  /** A read model of this service, by projection name (the local copy, as fresh as its position). */
  readModel<TRow = Record<string, unknown>>(name: string): ReadModelSource<TRow>
  readonly aggregateId: string
  readonly eventId: string
  readonly streamName: string
  readonly position: bigint
  readonly revision: bigint
  readonly createdAt: Date
  readonly metadata: Readonly<Record<string, unknown>>
  readonly partition: string
  /** Aborts when the reactor stops or loses the partition. */
  readonly signal: AbortSignal
}

/** What scheduling a command answers: the schedule's id (what cancelling names), when it is due, and where it is in the log. */
export interface ScheduledCommandReceipt {
  readonly scheduleId: string
  readonly at: Date
  readonly position: bigint
}

/** Scheduling and cancelling commands, as a reactor's and a workflow's context offer them. */
export interface CommandScheduling {
  /**
   * Schedules a command to be sent at `at`, once, with an id derived from the schedule. The schedule's id is
   * derived from this trigger and the call's index, so running the reaction again schedules nothing twice;
   * keep `at` a function of the state and the trigger (not of `now`), or a repeat is refused as
   * COMMAND_ID_REUSED. SCHEDULE_OUT_OF_RANGE for a time more than five minutes past or 366 days ahead.
   */
  scheduleCommand(command: ReactorCommand, at: Date): Promise<ScheduledCommandReceipt>
  /** Cancels a scheduled command: it will never be sent. SCHEDULE_NOT_PENDING once it was. */
  cancelScheduledCommand(scheduleId: string): Promise<void>
}

export type ReactorHandler<TEvent> = (event: TEvent, context: ReactorContext) => Promise<void> | void

export interface ReactorConfig<TName extends string, TAggregates extends readonly AnyAggregate[]> {
  readonly name: TName
  readonly description?: string
  readonly from: TAggregates
  /** The partition key of an event; defaults to its aggregate id. Events of one key are handled in order. */
  readonly partitionBy?: (event: AggregateEvent<TAggregates[number]>, aggregateId: string) => string
  /** How many partitions the reactor's work is split into, each run by one replica. Default 1. */
  readonly partitions?: number
  readonly handlers: {
    readonly [K in AggregateEvent<TAggregates[number]>['type']]?: ReactorHandler<
      Extract<AggregateEvent<TAggregates[number]>, { type: K }>
    >
  }
  /** How a failing handler is retried before its event goes to the dead letters (an unavailable store, or a saturated replica answering OVERLOADED, is retried without end). */
  readonly retry?: Partial<RetryPolicy>
}

export interface ReactorDefinition {
  readonly kind: 'reactor'
  readonly name: string
  readonly description?: string
  readonly eventTypes: readonly string[]
  readonly partitions: number
  readonly retry: Partial<RetryPolicy>
  handles(event: RecordedEvent): boolean
  /** The partition ('0' … partitions-1) an event this reactor handles belongs to. */
  partitionOf(event: RecordedEvent): string
  /** Parses an event and names its handler; throws when it cannot be parsed. */
  route(event: RecordedEvent): {
    readonly event: { readonly type: string; readonly data: unknown }
    readonly aggregateId: string
    readonly handle: ReactorHandler<{ readonly type: string; readonly data: unknown }>
  }
}

/**
 * Declares a reactor: handlers with side effects, typically sending commands to other aggregates. It runs on
 * one replica per partition, at least once per event, with a durable checkpoint in the event store; commands
 * sent through `context.send` have ids derived from the event, so a repeated delivery has no second effect.
 *
 * @example
 * const Dispatcher = defineReactor({
 *   name: 'dispatcher',
 *   from: [Grid],
 *   handlers: {
 *     DemandRaised: async ({ data }, ctx) => {
 *       const page = await ctx.readModel('batteryStatus').list({ where: { charge: { gte: 50 } }, first: 3 })
 *       for (const row of page.rows)
 *         await ctx.send({ aggregate: 'Battery', command: 'startDischarging', aggregateId: String(row.batteryId), input: { kw: data.kw } })
 *     },
 *   },
 * })
 */
export function defineReactor<const TName extends string, const TAggregates extends readonly AnyAggregate[]>(
  config: ReactorConfig<TName, TAggregates>,
): ReactorDefinition {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(config.name)) {
    throw new AnnalsError('BAD_CONFIG', `Reactor name "${config.name}" must be an identifier`)
  }
  const partitions = config.partitions ?? 1
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new AnnalsError('BAD_CONFIG', `Reactor ${config.name}: partitions must be a positive integer`)
  }
  const handlers = config.handlers as Record<string, ReactorHandler<never> | undefined>
  const types = Object.keys(handlers).filter((type) => handlers[type] !== undefined)
  for (const type of types) {
    if (!config.from.some((aggregate) => type in aggregate.events)) {
      throw new AnnalsError('BAD_CONFIG', `Reactor ${config.name}: no aggregate in "from" declares ${type}`)
    }
  }
  const aggregateOf = (event: RecordedEvent) =>
    types.includes(event.type)
      ? config.from.find(
          (aggregate) => event.type in aggregate.events && event.streamName.startsWith(`${aggregate.name}-`),
        )
      : undefined

  const route: ReactorDefinition['route'] = (recorded) => {
    const aggregate = aggregateOf(recorded)
    if (!aggregate) throw new AnnalsError('INTERNAL', `${config.name} does not handle ${recorded.type}`)
    return {
      event: aggregate.parseStoredEvent(recorded),
      aggregateId: recorded.streamName.slice(aggregate.name.length + 1),
      handle: handlers[recorded.type] as ReactorHandler<{ readonly type: string; readonly data: unknown }>,
    }
  }

  return {
    kind: 'reactor',
    name: config.name,
    ...(config.description === undefined ? {} : { description: config.description }),
    eventTypes: types,
    partitions,
    retry: config.retry ?? {},
    handles: (event) => aggregateOf(event) !== undefined,
    route,
    partitionOf(event) {
      if (partitions === 1) return '0'
      const { event: parsed, aggregateId } = route(event)
      const partitionKey = config.partitionBy
        ? config.partitionBy(parsed as AggregateEvent<TAggregates[number]>, aggregateId)
        : aggregateId
      return partitionOf(partitionKey, partitions)
    },
  }
}
