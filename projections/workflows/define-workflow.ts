import type { z } from 'zod'
import {
  AnnalsError,
  type AnyAggregate,
  type CommandResult,
  type ReadModelSource,
  type RecordedEvent,
} from '../../framework/index.ts'
import type { AggregateEvent } from '../define-projection.ts'
import type { CommandScheduling, ReactorCommand } from '../reactors/define-reactor.ts'
import { partitionOf } from '../partition-of.ts'
import type { RetryPolicy } from '../retry-policy.ts'

/** A timer of a workflow instance: named by the workflow, due at a time. */
export interface WorkflowTimer<TTimer extends string = string> {
  readonly name: TTimer
  /** Derived from the trigger that scheduled it; a later schedule of the same name gets another id. */
  readonly id: string
  readonly due: Date
}

/** A timer as its handler sees it: when it was due, when it fired, and how late. */
export interface FiredTimer<TTimer extends string = string> extends WorkflowTimer<TTimer> {
  readonly firedAt: Date
  /** firedAt - due: above zero after downtime or a busy replica; recorded on the TimerFired event. */
  readonly latenessMs: number
}

/** When a timer is due: at a time, or after a while from the clock's now. */
export type TimerDue = { readonly at: Date } | { readonly afterMs: number }

/** What a workflow handler may do besides returning the new state. */
export interface WorkflowReactions<TTimer extends string = string> extends CommandScheduling {
  /** The correlation id of this instance. */
  readonly workflowId: string
  /** The workflow clock's time as this reaction runs. */
  readonly now: Date
  /** The timers pending before this reaction. */
  readonly timers: readonly WorkflowTimer<TTimer>[]
  /**
   * Sends a command with an id derived from this trigger and the call's index, so running the reaction again
   * (after a crash before its record was written) has no second effect. Keep its input a function of the
   * state and the trigger: a repeat with other input is refused as COMMAND_ID_REUSED.
   */
  send(command: ReactorCommand): Promise<CommandResult>
  /** Schedules the named timer; a pending timer of that name is replaced (a heartbeat resets this way). */
  schedule(name: TTimer, due: TimerDue): void
  /** Cancels the named timer, if pending: it will never fire. */
  cancel(name: TTimer): void
  /** Ends the instance: its pending timers are cancelled and later events are ignored. */
  complete(): void
  /** A read model of this service, by projection name. */
  readModel<TRow = Record<string, unknown>>(name: string): ReadModelSource<TRow>
  /** Aborts when the workflow partition stops or moves to another replica. */
  readonly signal: AbortSignal
}

/** A handler's context for an event: the reactions and the event's place in the log. */
export interface WorkflowEventContext<TTimer extends string = string> extends WorkflowReactions<TTimer> {
  readonly aggregateId: string
  readonly eventId: string
  readonly streamName: string
  readonly position: bigint
  readonly createdAt: Date
  readonly metadata: Readonly<Record<string, unknown>>
}

/** A timer handler's context: the reactions and the timer that fired. */
export interface WorkflowTimerContext<TTimer extends string = string> extends WorkflowReactions<TTimer> {
  readonly timer: FiredTimer<TTimer>
}

/** Returns the new state; nothing keeps the state as it was. */
export type WorkflowEventHandler<TState, TEvent, TTimer extends string> = (
  state: TState,
  event: TEvent,
  context: WorkflowEventContext<TTimer>,
) => Promise<TState | void> | TState | void

export type WorkflowTimerHandler<TState, TTimer extends string> = (
  state: TState,
  context: WorkflowTimerContext<TTimer>,
) => Promise<TState | void> | TState | void

export interface WorkflowConfig<
  TName extends string,
  TStateSchema extends z.ZodType,
  TAggregates extends readonly AnyAggregate[],
  TTimer extends string,
> {
  readonly name: TName
  readonly description?: string
  /** The instance's state; each reaction's result is checked against it before it is recorded. */
  readonly state: TStateSchema
  readonly initialState: z.output<TStateSchema>
  readonly from: TAggregates
  /** The events that start an instance; any other event for an instance not started yet is ignored. */
  readonly startsOn: readonly AggregateEvent<TAggregates[number]>['type'][]
  /** The correlation id of an event: which instance it belongs to. Default: the event's aggregate id; undefined skips the event. */
  readonly correlate?: (event: AggregateEvent<TAggregates[number]>, aggregateId: string) => string | undefined
  readonly handlers: {
    readonly [K in AggregateEvent<TAggregates[number]>['type']]?: WorkflowEventHandler<
      z.output<TStateSchema>,
      Extract<AggregateEvent<TAggregates[number]>, { type: K }>,
      TTimer
    >
  }
  /** A handler per timer name: what happens when that timer fires. */
  readonly timers: { readonly [K in TTimer]: WorkflowTimerHandler<z.output<TStateSchema>, TTimer> }
  /** How many partitions the instances are split into, each run by one replica (placed by the ring). Default 4. */
  readonly partitions?: number
  /** How a failing reaction is retried before its instance is held in the dead letters. */
  readonly retry?: Partial<RetryPolicy>
}

/** A routed event: its parsed form, its instance, and its handler (absent: the event only starts nothing). */
export interface RoutedWorkflowEvent {
  readonly event: { readonly type: string; readonly data: unknown }
  readonly aggregateId: string
  readonly workflowId: string | undefined
  readonly starts: boolean
  readonly handle:
    WorkflowEventHandler<unknown, { readonly type: string; readonly data: unknown }, string> | undefined
}

export interface WorkflowDefinition {
  readonly kind: 'workflow'
  readonly name: string
  readonly description?: string
  /** The aggregates whose events it reads. */
  readonly from: readonly AnyAggregate[]
  readonly eventTypes: readonly string[]
  readonly timerNames: readonly string[]
  readonly partitions: number
  readonly retry: Partial<RetryPolicy>
  readonly initialState: unknown
  /** The state's schema: the gateway's query types it. */
  readonly state: z.ZodType
  /** Checks a reaction's result against the state schema; throws when it does not match. */
  parseState(state: unknown): unknown
  handles(event: RecordedEvent): boolean
  /** Parses an event and finds its instance and handler; throws when it cannot be parsed. */
  route(event: RecordedEvent): RoutedWorkflowEvent
  /** The partition ('0' … partitions-1) of an instance. */
  partitionOf(workflowId: string): string
  timer(name: string): WorkflowTimerHandler<unknown, string> | undefined
}

/**
 * Declares a workflow (a process manager): an instance per correlation id, started by some events, whose
 * state is recorded in its own stream, reacting to events and to its durable timers by sending commands
 * (with ids derived from the trigger), scheduling and cancelling timers, and completing.
 *
 * @example
 * const heartbeat = defineWorkflow({
 *   name: 'heartbeat',
 *   state: z.object({ offline: z.boolean() }),
 *   initialState: { offline: false },
 *   from: [Battery],
 *   startsOn: ['BatteryInstalled'],
 *   handlers: {
 *     BatteryInstalled: (state, _event, ctx) => ctx.schedule('silence', { afterMs: 300_000 }),
 *     TelemetryReported: (state, _event, ctx) => { ctx.schedule('silence', { afterMs: 300_000 }); return { offline: false } },
 *   },
 *   timers: {
 *     silence: async (state, ctx) => {
 *       await ctx.send({ aggregate: Battery, command: 'markOffline', aggregateId: ctx.workflowId, input: {} })
 *       return { offline: true }
 *     },
 *   },
 * })
 */
export function defineWorkflow<
  const TName extends string,
  TStateSchema extends z.ZodType,
  const TAggregates extends readonly AnyAggregate[],
  TTimer extends string,
>(config: WorkflowConfig<TName, TStateSchema, TAggregates, TTimer>): WorkflowDefinition {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(config.name)) {
    throw new AnnalsError('BAD_CONFIG', `Workflow name "${config.name}" must be an identifier`)
  }
  const partitions = config.partitions ?? 4
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new AnnalsError('BAD_CONFIG', `Workflow ${config.name}: partitions must be a positive integer`)
  }
  const handlers = config.handlers as Record<string, RoutedWorkflowEvent['handle']>
  const starts = new Set<string>(config.startsOn)
  const types = [...new Set([...starts, ...Object.keys(handlers).filter((type) => handlers[type])])]
  for (const type of types) {
    if (!config.from.some((aggregate) => type in aggregate.events)) {
      throw new AnnalsError('BAD_CONFIG', `Workflow ${config.name}: no aggregate in "from" declares ${type}`)
    }
  }
  const initial = config.state.safeParse(config.initialState)
  if (!initial.success) {
    throw new AnnalsError(
      'BAD_CONFIG',
      `Workflow ${config.name}: initialState does not match its state schema`,
    )
  }
  const timers = config.timers as unknown as Record<string, WorkflowTimerHandler<unknown, string>>
  const aggregateOf = (event: RecordedEvent) =>
    types.includes(event.type)
      ? config.from.find(
          (aggregate) => event.type in aggregate.events && event.streamName.startsWith(`${aggregate.name}-`),
        )
      : undefined

  return {
    kind: 'workflow',
    name: config.name,
    ...(config.description === undefined ? {} : { description: config.description }),
    from: config.from,
    eventTypes: types,
    timerNames: Object.keys(timers),
    partitions,
    retry: config.retry ?? {},
    initialState: initial.data,
    state: config.state,
    parseState: (state) => config.state.parse(state),
    handles: (event) => aggregateOf(event) !== undefined,
    route(recorded) {
      const aggregate = aggregateOf(recorded)
      if (!aggregate) throw new AnnalsError('INTERNAL', `${config.name} does not handle ${recorded.type}`)
      const event = aggregate.parseStoredEvent(recorded)
      const aggregateId = recorded.streamName.slice(aggregate.name.length + 1)
      const workflowId = config.correlate
        ? config.correlate(event as AggregateEvent<TAggregates[number]>, aggregateId)
        : aggregateId
      return {
        event,
        aggregateId,
        workflowId,
        starts: starts.has(recorded.type),
        handle: handlers[recorded.type],
      }
    },
    partitionOf: (workflowId) => partitionOf(workflowId, partitions),
    timer: (name) => (Object.hasOwn(timers, name) ? timers[name] : undefined),
  }
}
