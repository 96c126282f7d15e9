import type { EventStore } from '../../framework/index.ts'
import { createDeadLetterLog, type DeadLetterLog } from '../dead-letter-log.ts'

/** A reaction a workflow gave up on after its retries: its instance is held until it is retried or discarded. */
export interface WorkflowDeadLetter {
  /** What retry and discard name. */
  readonly id: string
  readonly workflow: string
  readonly workflowId: string
  readonly partition: string
  /** `event <type> at <position>`, or `timer <name>`. */
  readonly trigger: string
  /** The event reacted to, when the trigger is an event (not a timer). */
  readonly eventId?: string
  readonly eventType?: string
  readonly streamName?: string
  readonly position?: bigint
  readonly error: string
  readonly failedAt: Date
}

/** The stream that lists a workflow's dead letters (the held instance's own stream is the authority). */
export function workflowDeadLetterStream(workflow: string): string {
  return `annals-workflows-${workflow}-dead-letters`
}

/** A workflow's dead letters, kept in the event store. */
export type WorkflowDeadLetters = DeadLetterLog<WorkflowDeadLetter>

/** Creates the list of a workflow's dead letters in a stream of the event store. */
export function createWorkflowDeadLetters(store: EventStore, workflow: string): WorkflowDeadLetters {
  return createDeadLetterLog<WorkflowDeadLetter>(store, {
    stream: workflowDeadLetterStream(workflow),
    types: { dead: 'WorkflowDeadLettered', settled: 'WorkflowDeadLetterSettled' },
    key: { field: 'id', of: (letter) => letter.id },
    recordName: (letter, kind) => `${letter.id}/${kind}`,
    encode: (letter) => ({
      ...letter,
      failedAt: letter.failedAt.toISOString(),
      ...(letter.position === undefined ? {} : { position: String(letter.position) }),
    }),
    decode: (data) => {
      const { position, failedAt, ...rest } = data as Omit<WorkflowDeadLetter, 'failedAt' | 'position'> & {
        failedAt: string
        position?: string
      }
      return {
        ...rest,
        failedAt: new Date(failedAt),
        ...(position === undefined ? {} : { position: BigInt(position) }),
      }
    },
  })
}
