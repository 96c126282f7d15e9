import type { EventStore } from '../../framework/index.ts'

/** What made an instance react: an event of the log, one of its timers, or an operator settling its dead letter. */
export type WorkflowTrigger =
  | {
      readonly kind: 'event'
      readonly eventId: string
      readonly eventType: string
      readonly streamName: string
      readonly position: string
    }
  | {
      readonly kind: 'timer'
      readonly name: string
      readonly id: string
      readonly due: string
      readonly firedAt: string
      /** How late the timer fired (after downtime, or behind a busy queue). */
      readonly latenessMs: number
    }
  | { readonly kind: 'release'; readonly outcome: 'retried' | 'discarded'; readonly letter: string }

export interface SnapshotTimer {
  readonly name: string
  readonly id: string
  /** Milliseconds since the epoch. */
  readonly due: number
}

/** An instance after a reaction: each record carries it whole, so loading reads one event. */
export interface WorkflowSnapshot {
  readonly status: 'active' | 'held' | 'completed'
  readonly state: unknown
  readonly timers: readonly SnapshotTimer[]
  /** The position of the last event of the log handled (or queued behind a hold): repeats up to it are skipped. */
  readonly through: string
  /** A reaction that failed after its retries, and the events that arrived since, waiting for retry or discard. */
  readonly held?: {
    readonly letter: string
    readonly trigger: WorkflowTrigger
    readonly error: string
    readonly queued: readonly string[]
  }
}

export interface WorkflowRecord {
  readonly workflow: string
  readonly workflowId: string
  readonly trigger: WorkflowTrigger
  readonly snapshot: WorkflowSnapshot
  /** The ids of the commands the reaction sent, in order. */
  readonly sent: readonly string[]
}

/** The record types of an instance stream: every one carries the instance's snapshot. */
export const WORKFLOW_RECORD_TYPES = [
  'WorkflowEventHandled',
  'WorkflowTimerFired',
  'WorkflowHeld',
  'WorkflowReleased',
] as const
export type WorkflowRecordType = (typeof WORKFLOW_RECORD_TYPES)[number]

/** An instance as loaded: its snapshot and the revision its next record must follow. */
export interface LoadedInstance {
  readonly revision: bigint | undefined
  readonly snapshot: WorkflowSnapshot | undefined
}

/** The stream of a workflow instance. */
export function workflowStream(workflow: string, workflowId: string): string {
  return `annals-workflow-${workflow}-${workflowId}`
}

/** The stream of a workflow partition's checkpoint. */
export function workflowCheckpointStream(workflow: string, partition: string): string {
  return `annals-workflows-${workflow}-${partition}`
}

/** The key of a trigger: what derived ids (record, commands, timers) are derived from. */
export function triggerKey(trigger: WorkflowTrigger): string {
  if (trigger.kind === 'event') return `event/${trigger.eventId}`
  if (trigger.kind === 'timer') return `timer/${trigger.id}`
  return `release/${trigger.letter}/${trigger.outcome}`
}

/** Reads an instance's last record: its snapshot and revision (nothing for an instance not started). */
export async function loadInstance(
  store: EventStore,
  workflow: string,
  workflowId: string,
): Promise<LoadedInstance> {
  const stream = workflowStream(workflow, workflowId)
  for await (const event of store.readStream(stream, { direction: 'backwards', maxCount: 1 })) {
    return { revision: event.revision, snapshot: (event.data as WorkflowRecord).snapshot }
  }
  return { revision: undefined, snapshot: undefined }
}
