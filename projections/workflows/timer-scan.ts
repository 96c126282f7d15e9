import type { EventStore } from '../../framework/index.ts'
import { WORKFLOW_RECORD_TYPES, type SnapshotTimer, type WorkflowRecord } from './workflow-records.ts'

/** The instances a partition arms timers for, and what their last records leave pending. */
export interface TimerScanRequest {
  readonly workflow: string
  /** Whether an instance is the asking partition's. */
  readonly owns: (workflowId: string) => boolean
}

/** Pending timers by instance: those of each instance's last record. */
export type PendingTimers = Map<string, readonly SnapshotTimer[]>

/**
 * Finds the pending timers of the partitions starting on a replica, reading the log's workflow records once for
 * all of them: the partitions that ask within the same turn of the event loop (a rebalance starts them together)
 * share one read, where each used to read the whole log on its own.
 */
export function createTimerScan(store: EventStore) {
  let batch: { request: TimerScanRequest; found: PendingTimers; settle: Settle }[] = []

  async function scan(asked: typeof batch) {
    const byWorkflow = new Map<string, typeof batch>()
    for (const entry of asked) {
      const forWorkflow = byWorkflow.get(entry.request.workflow)
      if (forWorkflow) forWorkflow.push(entry)
      else byWorkflow.set(entry.request.workflow, [entry])
    }
    try {
      for await (const event of store.readAll({ eventTypes: WORKFLOW_RECORD_TYPES })) {
        const record = event.data as WorkflowRecord
        const pending = record.snapshot.status === 'active' ? record.snapshot.timers : []
        // Every request that owns the instance gets it: a partition restarted before the read began asks twice.
        for (const { request, found } of byWorkflow.get(record.workflow) ?? []) {
          if (!request.owns(record.workflowId)) continue
          if (pending.length > 0) found.set(record.workflowId, pending)
          else found.delete(record.workflowId)
        }
      }
    } catch (error) {
      for (const entry of asked) entry.settle.reject(error)
      return
    }
    for (const entry of asked) entry.settle.resolve(entry.found)
  }

  return {
    /** The pending timers of the instances `request` owns, from a read shared with whoever asks meanwhile. */
    pending(request: TimerScanRequest): Promise<PendingTimers> {
      return new Promise<PendingTimers>((resolve, reject) => {
        if (batch.length === 0) {
          setImmediate(() => {
            const asked = batch
            batch = []
            void scan(asked)
          })
        }
        batch.push({ request, found: new Map(), settle: { resolve, reject } })
      })
    },
  }
}

export type TimerScan = ReturnType<typeof createTimerScan>

interface Settle {
  resolve(found: PendingTimers): void
  reject(error: unknown): void
}
