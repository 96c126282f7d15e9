import type { PartitionStatus } from '../../framework/index.ts'
import type { WorkflowDefinition } from './define-workflow.ts'
import type { WorkflowClock } from './workflow-clock.ts'
import {
  createWorkflowDeadLetters,
  type WorkflowDeadLetter,
  type WorkflowDeadLetters,
} from './workflow-dead-letters.ts'
import { createTimerScan } from './timer-scan.ts'
import { startWorkflowPartition, type WorkflowPartition } from './workflow-partition.ts'
import {
  createPartitionHost,
  createPartitionSet,
  partitionRunnerContext,
  partitionStatuses,
  type PartitionHost,
  type PartitionHostOptions,
  type PartitionRuntime,
} from '../partition-set.ts'
import { loadInstance, type WorkflowSnapshot } from './workflow-records.ts'

/** A workflow instance as its stream last recorded it. */
export interface WorkflowInstance {
  readonly workflowId: string
  readonly status: WorkflowSnapshot['status']
  readonly state: unknown
  readonly timers: readonly { readonly name: string; readonly id: string; readonly due: Date }[]
  /** The revision of its stream's last record. */
  readonly revision: bigint
}

/** Operations on one workflow: for tests, tools and an admin surface. */
export interface WorkflowControl {
  /** The partitions running on this replica. */
  partitions(): readonly string[]
  /** Where each partition running on this replica stands: its checkpoint and its lag. */
  partitionStatuses(): readonly PartitionStatus[]
  /** An instance's state and pending timers, read from its stream (on any replica); undefined before it started. */
  instance(workflowId: string): Promise<WorkflowInstance | undefined>
  /** Timers pending on this replica. */
  pendingTimers(): number
  /** Timers fired on this replica since it started. */
  timersFired(): number
  /** How late the timers fired here were, in ms (the last 1,024 per partition). */
  lateness(): readonly number[]
  /** Reactions given up on; each holds its instance until it is retried or discarded. */
  deadLetters(): Promise<readonly WorkflowDeadLetter[]>
  /** Runs a held reaction again (on the replica that runs its partition); true when it went through. */
  retryDeadLetter(id: string): Promise<boolean>
  /** Skips a held reaction; the instance goes on with the events queued behind it. */
  discardDeadLetter(id: string): Promise<boolean>
  /** Resolves once this replica's partitions have handled the log up to `position` (pass a position of an event the workflow handles). */
  reached(position: bigint): Promise<void>
  /** Resolves once no event or timer is being handled here. */
  idle(): Promise<void>
}

export interface WorkflowHostOptions extends PartitionHostOptions {
  readonly workflows: readonly WorkflowDefinition[]
  readonly clock: WorkflowClock
}

/** The workflow partitions of a read side that run on this replica. */
export type WorkflowHost = PartitionHost<WorkflowControl>

interface WorkflowRuntime extends PartitionRuntime<WorkflowPartition> {
  readonly definition: WorkflowDefinition
  readonly deadLetters: WorkflowDeadLetters
}

/** The ring key of a workflow partition, beside the reactors' (the same ring as aggregates places both). */
export function workflowPartitionOwner(workflow: string): string {
  return `workflow:${workflow}`
}

/** Creates the host of a read side's workflows: each runs the partitions `ownsPartition` gives this replica. */
export function createWorkflowHost(options: WorkflowHostOptions): WorkflowHost {
  const { store } = options
  const runnerContext = partitionRunnerContext(options)
  // The partitions a rebalance starts together read the log's workflow records once between them.
  const timerScan = createTimerScan(store)

  const runtimes = options.workflows.map((definition): WorkflowRuntime => {
    const deadLetters = createWorkflowDeadLetters(store, definition.name)
    return {
      definition,
      deadLetters,
      partitions: createPartitionSet({
        partitions: definition.partitions,
        owns: (partition) =>
          options.ownsPartition?.(workflowPartitionOwner(definition.name), partition) ?? true,
        start: (partition) =>
          startWorkflowPartition({
            ...runnerContext,
            definition,
            partition,
            deadLetters,
            timerScan,
            clock: options.clock,
            ...(options.onTimerFired ? { onTimerFired: options.onTimerFired } : {}),
          }),
      }),
    }
  })

  function control(runtime: WorkflowRuntime): WorkflowControl {
    const { definition } = runtime
    const { running } = runtime.partitions
    const partitions = () => [...running.values()]
    const settle = async (id: string, outcome: 'retried' | 'discarded') => {
      const letter = (await runtime.deadLetters.list()).find((candidate) => candidate.id === id)
      if (!letter) return false
      if (letter.workflowId === '') {
        // An event no instance could be found for: nothing is held, so settling only takes it off the list.
        if (outcome === 'retried') return false
        await runtime.deadLetters.settle(letter, outcome)
        return true
      }
      const partition = running.get(definition.partitionOf(letter.workflowId))
      return partition ? partition.release(letter, outcome) : false
    }
    return {
      partitions: () => [...running.keys()],
      partitionStatuses: () => partitionStatuses('workflow', runtime, options.lagAt),
      async instance(workflowId) {
        const { revision, snapshot } = await loadInstance(store, definition.name, workflowId)
        if (revision === undefined || !snapshot) return undefined
        return {
          workflowId,
          status: snapshot.status,
          state: snapshot.state,
          timers: snapshot.timers.map((t) => ({ name: t.name, id: t.id, due: new Date(t.due) })),
          revision,
        }
      },
      pendingTimers: () => partitions().reduce((sum, p) => sum + p.pendingTimers, 0),
      timersFired: () => partitions().reduce((sum, p) => sum + p.timersFired, 0),
      lateness: () => partitions().flatMap((p) => p.lateness),
      deadLetters: () => runtime.deadLetters.list(),
      retryDeadLetter: (id) => settle(id, 'retried'),
      discardDeadLetter: (id) => settle(id, 'discarded'),
      async reached(position) {
        await Promise.all(partitions().map((p) => p.reached(position)))
      },
      async idle() {
        await Promise.all(partitions().map((p) => p.idle()))
      },
    }
  }

  return createPartitionHost({ kind: 'workflow', runtimes, control })
}
