import type { z } from 'zod'
import type { CommandBus } from '../command/command-bus.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { ProjectionStatus, ReadModelSource } from './read-model-source.ts'
import type { ProcessorOperations, ProjectionOperations } from './read-side-operations.ts'

/**
 * What createServer hands the read side it was given: the write side it reads and commands, and where this
 * replica stands. The framework defines this port; annals/projections implements it (createReadSide), and
 * framework never imports projections.
 */
export interface ReadSideContext {
  readonly store: EventStore
  readonly commands: CommandBus
  /** Whether this replica runs a reactor partition now; absent means every partition runs here. */
  readonly ownsPartition?: (reactor: string, partition: string) => boolean
  readonly log?: ReadSideLogger
  /** The environment to read (DATABASE_URL, ...); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Where embedded data lives (ANNALS_DATA_DIR); absent: nothing is kept on disk. */
  readonly dataDir?: string
  /** This replica's name among its peers (its URL), for the leases of the projections it runs. */
  readonly replica?: string
  /** Called each time a workflow timer fires on this replica, with how late it fired (for the metrics). */
  readonly onTimerFired?: (workflow: string, latenessMs: number) => void
}

export interface ReadSideLogger {
  info(object: Record<string, unknown>, message: string): void
  warn(object: Record<string, unknown>, message: string): void
  error(object: Record<string, unknown>, message: string): void
}

export interface ReadSide {
  /** The read models the gateway serves, one per projection. */
  readonly sources: readonly ReadModelSource[]
  start(): Promise<void>
  stop(): Promise<void>
  /** True once every projection has caught up with the log at least once and its store answers (readiness). */
  isCaughtUp(): boolean
  /** Why the read side is not ready now (empty when it is); readiness lists them. */
  unready?(): readonly string[]
  statuses(): readonly ProjectionStatus[]
  /** Called when the ring changes, so reactor partitions move to their new owner. */
  rebalance?(): void
  /** The names of its workflows. */
  readonly workflows?: readonly string[]
  /** What the gateway and the metrics read of a workflow (NOT_FOUND for a name it does not run). */
  workflowView?(name: string): WorkflowView
  /** The names of the reactors it runs (the ops endpoint lists them). */
  readonly reactorNames?: readonly string[]
  /** Operations on one projection by name; NOT_FOUND for an unknown one. */
  projection?(name: string): ProjectionOperations
  /** Operations on one reactor by name; NOT_FOUND for an unknown one. */
  reactor?(name: string): ProcessorOperations
  /** Operations on one workflow by name; NOT_FOUND for an unknown one. */
  workflow?(name: string): ProcessorOperations
}

/** A workflow as the gateway shows it, known before anything runs: its name and its state's schema. */
export interface WorkflowShape {
  readonly name: string
  readonly description?: string
  readonly state: z.ZodType
}

/** A workflow instance as its stream last recorded it. */
export interface WorkflowInstanceView {
  readonly workflowId: string
  readonly status: 'active' | 'held' | 'completed'
  readonly state: unknown
  /** Its pending timers (for the scheduled-commands workflow: the schedule's time). */
  readonly timers: readonly { readonly name: string; readonly id: string; readonly due: Date }[]
  readonly revision: bigint
}

/** A reaction a workflow gave up on, holding its instance until it is retried or discarded. */
export interface WorkflowDeadLetterView {
  readonly id: string
  readonly workflowId: string
  readonly partition: string
  readonly trigger: string
  readonly error: string
  readonly failedAt: Date
}

/** What can be read of one workflow: its instances from the log, its dead letters, and this replica's timers. */
export interface WorkflowView {
  instance(workflowId: string): Promise<WorkflowInstanceView | undefined>
  deadLetters(): Promise<readonly WorkflowDeadLetterView[]>
  /** Timers pending in the partitions this replica runs. */
  pendingTimers(): number
  /** Timers fired on this replica since it started. */
  timersFired(): number
}

/** A read model as the GraphQL schema needs it, known before anything runs. */
export type ReadModelShape = Pick<ReadModelSource, 'name' | 'schema' | 'key' | 'description'>

/**
 * The `readSide` option of createServer, as `cluster` is: a value the application builds (createReadSide
 * from annals/projections) that the server starts with its context.
 */
export interface ReadSideOption {
  /** The read models it will serve: `annals schema` prints the schema from them without starting anything. */
  readonly models: readonly ReadModelShape[]
  /**
   * It fires scheduled commands: the server then hosts the ScheduledCommand aggregate and the gateway offers a
   * `schedule<Command>` mutation per public command and `cancelScheduledCommand`.
   */
  readonly scheduledCommands?: boolean
  /** Its workflows: the gateway offers a query per workflow (`<name>Workflow`). */
  readonly workflows?: readonly WorkflowShape[]
  create(context: ReadSideContext): Promise<ReadSide>
}
