import type { EventStore } from '../../framework/index.ts'
import { createDeadLetterLog, type DeadLetterLog } from '../dead-letter-log.ts'

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

/** A reactor's dead letters, kept in the event store beside its checkpoints. */
export type ReactorDeadLetters = DeadLetterLog<ReactorDeadLetter>

/**
 * Creates the dead letters of a reactor in a stream of the event store, so that a restart loses none while
 * the checkpoint has moved past them: each is appended (with an id derived from its event, so a repeat
 * appends nothing) before the checkpoint that passes it.
 */
export function createReactorDeadLetters(store: EventStore, reactor: string): ReactorDeadLetters {
  return createDeadLetterLog<ReactorDeadLetter>(store, {
    stream: reactorDeadLetterStream(reactor),
    types: { dead: 'ReactorEventDeadLettered', settled: 'ReactorDeadLetterSettled' },
    key: { field: 'eventId', of: (letter) => letter.eventId },
    recordName: (letter, kind) => `${letter.eventId}/${kind}/${letter.failedAt.getTime()}`,
    encode: (letter) => ({
      ...letter,
      position: letter.position.toString(),
      failedAt: letter.failedAt.toISOString(),
    }),
    decode: (data) => ({
      ...(data as unknown as ReactorDeadLetter),
      position: BigInt(data['position'] as string),
      failedAt: new Date(data['failedAt'] as string),
    }),
  })
}
