import type { CommandBus } from '../command/command-bus.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { ProjectionStatus, ReadModelSource } from './read-model-source.ts'

/**
 * How createServer runs projections and reactors without importing annals/projections: each declaration
 * from defineProjection / defineReactor carries the factory of the runtime that runs them all.
 */
export interface ReadSideContext {
  readonly store: EventStore
  readonly commands: CommandBus
  /** Whether this replica runs a reactor partition now; absent means every partition runs here. */
  readonly ownsPartition?: (reactor: string, partition: string) => boolean
  readonly log?: ReadSideLogger
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
  /** True once every projection has caught up with the log at least once (readiness). */
  isCaughtUp(): boolean
  statuses(): readonly ProjectionStatus[]
  /** Called when the ring changes, so reactor partitions move to their new owner. */
  rebalance?(): void
}

export interface ReadSideMember {
  readonly kind: 'projection' | 'reactor'
  readonly name: string
  readonly createReadSide: (members: readonly ReadSideMember[], context: ReadSideContext) => ReadSide
}
