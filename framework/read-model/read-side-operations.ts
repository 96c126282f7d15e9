import type { ProjectionStatus } from './read-model-source.ts'

/**
 * The operations port of a read side: what an operator may see and do to its projections, reactors and
 * workflows (the ops endpoint and `annals ops` use it). annals/projections implements it; framework never
 * imports projections.
 */

/** A dead letter as an operator sees it, whichever kind of handler gave up on its event. */
export interface DeadLetterView {
  /** What retry and discard name. */
  readonly id: string
  /** The event given up on (absent for a workflow reaction to a timer). */
  readonly eventId?: string
  readonly eventType?: string
  readonly streamName?: string
  readonly position?: bigint
  /** A projection's row key that waits behind it. */
  readonly key?: string
  /** The reactor or workflow partition it belongs to. */
  readonly partition?: string
  /** The workflow instance it holds. */
  readonly workflowId?: string
  /** What a workflow reacted to: `event <type> at <position>`, or `timer <name>`. */
  readonly trigger?: string
  readonly attempts?: number
  readonly error: string
  readonly failedAt: Date
}

/** Operations on one projection. */
export interface ProjectionOperations {
  status(): ProjectionStatus
  /** Whether a rebuild started here is still filling its copy. */
  rebuilding(): boolean
  /** The replica that runs it when another one does (read models in a shared database); undefined: here. */
  runsOn(): Promise<string | undefined>
  /** Stops folding events; reads go on serving the model as it is. */
  pause(): void
  /** Catches up from where it paused or failed, then follows live. */
  resume(): void
  /** Builds a fresh copy from the start of the log while the current one serves, then switches to it. */
  rebuild(): Promise<void>
  deadLetters(): readonly DeadLetterView[]
  /** Folds a dead letter's event again; true when it went in. */
  retryDeadLetter(id: string): Promise<boolean>
  /** Drops a dead letter's event for good; true when there was one. */
  discardDeadLetter(id: string): Promise<boolean>
}

/** Where one partition of a reactor or workflow running on this replica stands. */
export interface PartitionStatus {
  readonly partition: string
  /** The position it has handled the log through: every event of the partition up to it handled or a dead letter. */
  readonly position: bigint
  /** What its durable checkpoint holds (undefined before the first): a restart handles the events after it again. */
  readonly checkpoint: bigint | undefined
  /** Its events after `position`, as projections count theirs. */
  readonly eventsBehind: number
  /** The age of the oldest of them; 0 when level. */
  readonly millisecondsBehind: number
}

/** Operations on one reactor or workflow. */
export interface ProcessorOperations {
  /** The partitions running on this replica. */
  partitions(): readonly string[]
  /** Where each partition running on this replica stands: position, checkpoint and lag. */
  partitionStatuses(): readonly PartitionStatus[]
  deadLetters(): Promise<readonly DeadLetterView[]>
  /** Handles a dead letter's event again; true when it went through. */
  retryDeadLetter(id: string): Promise<boolean>
  /** Gives a dead letter's event up for good; true when there was one. */
  discardDeadLetter(id: string): Promise<boolean>
}
