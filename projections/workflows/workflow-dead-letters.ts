import type { EventStore } from '../../framework/index.ts'
import { nameBasedUuid } from '../../framework/index.ts'

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

const DEAD = 'WorkflowDeadLettered'
const SETTLED = 'WorkflowDeadLetterSettled'

export interface WorkflowDeadLetters {
  /** Lists a dead letter; once however often (its id is derived from the letter). */
  record(letter: WorkflowDeadLetter): Promise<void>
  /** The dead letters not settled yet, oldest first. */
  list(): Promise<WorkflowDeadLetter[]>
  settle(letter: WorkflowDeadLetter, outcome: 'retried' | 'discarded'): Promise<void>
}

/** Creates the list of a workflow's dead letters in a stream of the event store. */
export function createWorkflowDeadLetters(store: EventStore, workflow: string): WorkflowDeadLetters {
  const stream = workflowDeadLetterStream(workflow)
  return {
    async record(letter) {
      await store.appendToStream(stream, [
        {
          id: nameBasedUuid(`${stream}/${letter.id}/dead`),
          type: DEAD,
          data: {
            ...letter,
            failedAt: letter.failedAt.toISOString(),
            ...(letter.position === undefined ? {} : { position: String(letter.position) }),
          },
        },
      ])
    },
    async list() {
      const open = new Map<string, WorkflowDeadLetter>()
      for await (const event of store.readStream(stream)) {
        const data = event.data as Omit<WorkflowDeadLetter, 'failedAt' | 'position'> & {
          failedAt: string
          position?: string
        }
        if (event.type === DEAD) {
          const { position, ...rest } = data
          open.set(data.id, {
            ...rest,
            failedAt: new Date(data.failedAt),
            ...(position === undefined ? {} : { position: BigInt(position) }),
          })
        } else if (event.type === SETTLED) open.delete(data.id)
      }
      return [...open.values()]
    },
    async settle(letter, outcome) {
      await store.appendToStream(stream, [
        {
          id: nameBasedUuid(`${stream}/${letter.id}/settled`),
          type: SETTLED,
          data: { id: letter.id, outcome },
        },
      ])
    },
  }
}
