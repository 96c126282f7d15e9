import { randomUUID } from 'node:crypto'
import type {
  EventStore,
  EventToAppend,
  RecordedEvent,
  SubscriptionMessage,
} from '../../framework/event-store/event-store.ts'

/** A store under test and how to dispose of it. */
export interface StoreUnderTest {
  readonly store: EventStore
  cleanup(): Promise<void>
}

/** Gives each section the store its runner created (the suite shares one store per file). */
export type GetStore = () => EventStore

/**
 * Names unique to one test, so tests are independent on a shared store (a real EventStoreDB keeps history):
 * a stream name and event types no other test uses.
 */
export function scenario(label: string) {
  const tag = randomUUID().replaceAll('-', '').slice(0, 12)
  return {
    stream: (name = 'stream') => `${label}-${name}-${tag}`,
    type: (name: string) => `${name}_${tag}`,
  }
}

/** `count` new events of one type, numbered in their data. */
export function newEvents(count: number, type: string): EventToAppend[] {
  return Array.from({ length: count }, (_, index) => ({
    id: randomUUID(),
    type,
    data: { index },
    metadata: { source: 'contract' },
  }))
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

/** Reads a subscription until `done` says so, then aborts it and returns what came (in order). */
export async function takeUntil(
  store: EventStore,
  options: { fromPosition?: bigint | 'start'; eventTypes?: readonly string[] },
  done: (received: readonly SubscriptionMessage[], latest: SubscriptionMessage) => boolean | Promise<boolean>,
): Promise<SubscriptionMessage[]> {
  const controller = new AbortController()
  const received: SubscriptionMessage[] = []
  for await (const message of store.subscribeToAll({ ...options, signal: controller.signal })) {
    received.push(message)
    if (await done(received, message)) controller.abort()
  }
  return received
}

export function eventsOf(messages: readonly SubscriptionMessage[]): RecordedEvent[] {
  return messages.flatMap((message) => (message.kind === 'event' ? [message.event] : []))
}

/** The event index (data.index) of each event, to compare orders briefly. */
export function indexes(events: readonly RecordedEvent[]): unknown[] {
  return events.map((event) => (event.data as { index?: unknown }).index)
}

/** Rejects with the thrown value, or fails when the promise resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('Expected a rejection, but the promise resolved')
}
