import { AssertionError, deepStrictEqual } from 'node:assert'
import { randomUUID } from 'node:crypto'
import {
  AnnalsError,
  createInMemoryEventStore,
  type CommandBus,
  type CommandEnvelope,
} from '../../framework/index.ts'
import { createWorkflowHost } from '../workflows/workflow-host.ts'
import type { WorkflowDefinition } from '../workflows/define-workflow.ts'
import {
  WORKFLOW_RECORD_TYPES,
  type WorkflowRecord,
  type WorkflowSnapshot,
} from '../workflows/workflow-records.ts'
import { createTestClock } from '../workflows/test-clock.ts'
import { appendSpecEvent, SPEC_START, type SpecEvent } from '../../framework/internal.ts'

export type { SpecEvent }

/** A command a workflow sent, as a spec compares it. */
export interface SentCommand {
  readonly aggregate: string
  readonly command: string
  readonly aggregateId: string
  readonly input: unknown
}

export interface WorkflowSpecOptions {
  /** The time the history happens at; fixed by default (2026-01-01T00:00:00Z) so specs are repeatable. */
  readonly start?: Date
}

/** What happened when the time passed: assert on it; each assertion returns the outcome. */
export interface WorkflowSpecOutcome {
  /** The commands sent while the history was handled. */
  readonly sentBefore: readonly SentCommand[]
  /** The commands sent once the time passed (by the timers that fired). */
  readonly sent: readonly SentCommand[]
  /** Each instance as its last record left it. */
  readonly instances: ReadonlyMap<string, WorkflowSnapshot>
  /** Asserts the commands sent once the time passed, in order. */
  thenSent(expected: readonly SentCommand[]): WorkflowSpecOutcome
  thenSentNothing(): WorkflowSpecOutcome
  /** Asserts an instance's state (and, given, its status): equal to a value, or checked by a function. */
  thenState(workflowId: string, expected: unknown, status?: WorkflowSnapshot['status']): WorkflowSpecOutcome
}

export interface WorkflowSpecGiven {
  /** Moves the clock to `at`: every timer due by then fires. */
  whenTimePassesTo(at: Date): Promise<WorkflowSpecOutcome>
  /** Moves the clock forward by `ms` from the start. */
  whenTimePasses(ms: number): Promise<WorkflowSpecOutcome>
}

export interface WorkflowSpec {
  /** The history the workflow reads, appended in order to an in-memory store. */
  given(events: readonly SpecEvent[]): WorkflowSpecGiven
}

/**
 * Given/when/then specifications of a workflow: given events, when time passes to T, then these commands were
 * sent. It runs the real workflow runtime (records, timers, derived ids) on an in-memory store and a test
 * clock; the commands it sends are recorded and answered with an empty result, not run.
 *
 * @example
 * await workflowSpec(heartbeat)
 *   .given([{ aggregateId: 'b1', type: 'BatteryInstalled', data: installed }])
 *   .whenTimePasses(5 * 60_000)
 *   .then((outcome) => outcome.thenSent([{ aggregate: 'Battery', command: 'markOffline', aggregateId: 'b1', input: {} }]))
 */
export function workflowSpec(
  definition: WorkflowDefinition,
  options: WorkflowSpecOptions = {},
): WorkflowSpec {
  const start = (options.start ?? SPEC_START).getTime()
  return {
    given(history) {
      const run = async (at: number) => {
        const clock = createTestClock(start)
        // Each given event is created at the clock's time, as it would be when it happens.
        const store = createInMemoryEventStore({ now: () => new Date(clock.now()) })
        const sent: SentCommand[] = []
        const commands: CommandBus = {
          execute: (envelope: CommandEnvelope) => {
            sent.push({
              aggregate: envelope.aggregate,
              command: envelope.command,
              aggregateId: envelope.aggregateId,
              input: envelope.input,
            })
            return Promise.resolve({
              aggregateId: envelope.aggregateId,
              commandId: envelope.commandId ?? randomUUID(),
              revision: 0n,
              events: [],
              position: 0n,
            })
          },
        }
        const host = createWorkflowHost({
          store,
          commands,
          workflows: [definition],
          clock,
          readModel: (name) => {
            throw new AnnalsError('NOT_FOUND', `A workflow spec has no read model ${name}`)
          },
          handlerRetry: { attempts: 0 },
          // A spec runs its triggers to the end before it reads anything: there is no lag to measure.
          lagAt: () => ({ eventsBehind: 0, millisecondsBehind: 0 }),
        })
        host.rebalance()
        const control = host.control(definition.name)
        try {
          let last = 0n
          for (const event of history) {
            if (event.at) {
              await control.reached(last)
              clock.set(event.at)
              await control.idle()
            }
            last = await appendSpecEvent(store, definition.from, definition.name, event)
          }
          await control.reached(last)
          const sentBefore = sent.splice(0)
          clock.set(at)
          await control.idle()
          return outcome(sentBefore, sent, await lastSnapshots(store, definition.name))
        } finally {
          await host.stop()
          await store.close()
        }
      }
      return {
        whenTimePassesTo: (at) => run(at.getTime()),
        whenTimePasses: (ms) => run(start + ms),
      }
    },
  }
}

async function lastSnapshots(
  store: ReturnType<typeof createInMemoryEventStore>,
  workflow: string,
): Promise<Map<string, WorkflowSnapshot>> {
  const instances = new Map<string, WorkflowSnapshot>()
  for await (const event of store.readAll({ eventTypes: WORKFLOW_RECORD_TYPES })) {
    const record = event.data as WorkflowRecord
    if (record.workflow === workflow) instances.set(record.workflowId, record.snapshot)
  }
  return instances
}

function outcome(
  sentBefore: readonly SentCommand[],
  sent: readonly SentCommand[],
  instances: ReadonlyMap<string, WorkflowSnapshot>,
): WorkflowSpecOutcome {
  const self: WorkflowSpecOutcome = {
    sentBefore,
    sent,
    instances,
    thenSent(expected) {
      deepStrictEqual(sent, expected, 'The commands sent once the time passed')
      return self
    },
    thenSentNothing: () => self.thenSent([]),
    thenState(workflowId, expected, status) {
      const instance = instances.get(workflowId)
      if (!instance) throw new AssertionError({ message: `No instance ${workflowId} was started` })
      if (typeof expected === 'function') (expected as (state: unknown) => void)(instance.state)
      else deepStrictEqual(instance.state, expected, `The state of ${workflowId}`)
      if (status !== undefined) deepStrictEqual(instance.status, status, `The status of ${workflowId}`)
      return self
    },
  }
  return self
}
