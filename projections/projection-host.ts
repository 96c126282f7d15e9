import type { AnyEngine } from './projection-runner.ts'
import type { ProjectionSource } from './projection-source.ts'

/** A projection's source as a host drives it, whatever its row type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySource = ProjectionSource<any>

/**
 * How the projections of a read side are run on this replica: all of them from one subscription (memory:
 * each replica its own copy), or those whose lease this replica holds (a shared database).
 */
export interface ProjectionHost {
  start(): void
  stop(): Promise<void>
  pause(source: AnySource): void
  resume(source: AnySource): void
  reset(source: AnySource): Promise<void>
  /** Builds `shadow` while the current model serves, and switches to it once it is level with the log. */
  rebuild(source: AnySource, shadow: AnyEngine): Promise<void>
  /** Whether the model has caught up with the log (here, or on the replica that runs it). */
  caughtUp(source: AnySource): boolean
  /** The replica that runs the model when another one does (its lease); undefined when it runs here. */
  runsOn(source: AnySource): Promise<string | undefined>
  /** Why the models cannot serve now (empty when they can). */
  unready(): string[]
  /** The furthest position the host has seen in the log, for lag. */
  position(): bigint
  averageEventBytes(): number
}
