import { nameBasedUuid, type EventStore } from '../../framework/index.ts'

/** An event a reactor gave up on after its retries; the reactor went on with the next one. */
export interface ReactorDeadLetter {
  /** The id of the event given up on: what retry and discard name. */
  readonly id: string
  readonly reactor: string
  readonly partition: string
  readonly eventId: string
  readonly eventType: string
  readonly streamName: string
  readonly position: bigint
  readonly error: string
  readonly failedAt: Date
}

/** The stream that keeps a reactor's dead letters. */
export function reactorDeadLetterStream(reactor: string): string {
  return `annals-reactor-${reactor}-dead-letters`
}

const DEAD = 'ReactorEventDeadLettered'
const SETTLED = 'ReactorDeadLetterSettled'

/** A reactor's dead letters, kept in the event store beside its checkpoints. */
export interface ReactorDeadLetters {
  /** Keeps a dead letter; written before the checkpoint moves past its event, and once however often. */
  record(letter: ReactorDeadLetter): Promise<void>
  /** The dead letters not retried or discarded yet, oldest first. */
  list(): Promise<ReactorDeadLetter[]>
  /** Marks a dead letter settled: its event went in on a retry, or was discarded. */
  settle(letter: ReactorDeadLetter, outcome: 'retried' | 'discarded'): Promise<void>
}

/**
 * Creates the dead letters of a reactor in a stream of the event store, so that a restart loses none while
 * the checkpoint has moved past them: each is appended (with an id derived from its event, so a repeat
 * appends nothing) before the checkpoint that passes it.
 */
export function createReactorDeadLetters(store: EventStore, reactor: string): ReactorDeadLetters {
  const stream = reactorDeadLetterStream(reactor)
  return {
    async record(letter) {
      await store.appendToStream(stream, [
        {
          id: nameBasedUuid(`${stream}/${letter.eventId}/dead/${letter.failedAt.getTime()}`),
          type: DEAD,
          data: { ...letter, position: letter.position.toString(), failedAt: letter.failedAt.toISOString() },
        },
      ])
    },
    async list() {
      const open = new Map<string, ReactorDeadLetter>()
      for await (const event of store.readStream(stream)) {
        const data = event.data as Record<string, string>
        if (event.type === DEAD) {
          open.set(data['eventId']!, {
            ...(data as unknown as ReactorDeadLetter),
            position: BigInt(data['position']!),
            failedAt: new Date(data['failedAt']!),
          })
        } else if (event.type === SETTLED) open.delete(data['eventId']!)
      }
      return [...open.values()]
    },
    async settle(letter, outcome) {
      await store.appendToStream(stream, [
        {
          id: nameBasedUuid(`${stream}/${letter.eventId}/settled/${letter.failedAt.getTime()}`),
          type: SETTLED,
          data: { eventId: letter.eventId, outcome },
        },
      ])
    },
  }
}
