import { describe, expect, it } from 'vitest'
import type { SubscriptionMessage } from '../../framework/event-store/event-store.ts'
import {
  collect,
  eventsOf,
  indexes,
  newEvents,
  scenario,
  takeUntil,
  type GetStore,
} from './contract-builders.ts'

const kinds = (messages: readonly SubscriptionMessage[]) =>
  messages.filter((message) => message.kind !== 'checkpoint').map((message) => message.kind)

/** Catch-up subscriptions to `$all`: history, caughtUp, live, filters, checkpoints and ending. */
export function subscriptionContract(getStore: GetStore): void {
  describe('subscribeToAll', () => {
    it('delivers history, then caughtUp, then live events', async () => {
      const s = scenario('sub')
      const type = s.type('Happened')
      const start = await getStore().headPosition()
      await getStore().appendToStream(s.stream(), newEvents(3, type))
      let live: bigint | undefined
      const received = await takeUntil(
        getStore(),
        { fromPosition: start, eventTypes: [type] },
        async (all, latest) => {
          if (latest.kind === 'caughtUp' && live === undefined) {
            live = (await getStore().appendToStream(s.stream(), newEvents(2, type))).position
          }
          return eventsOf(all).length === 5
        },
      )
      expect(kinds(received)).toEqual(['event', 'event', 'event', 'caughtUp', 'event', 'event'])
      const events = eventsOf(received)
      expect(events.map((event) => event.revision)).toEqual([0n, 1n, 2n, 3n, 4n])
      expect(events[4]!.position).toBe(live)
    })

    it('delivers live events from concurrent writers in $all order, without gaps', async () => {
      const s = scenario('sub')
      const type = s.type('Happened')
      const start = await getStore().headPosition()
      const writers = 4
      const perWriter = 25
      let writing: Promise<unknown> | undefined
      const received = await takeUntil(
        getStore(),
        { fromPosition: start, eventTypes: [type] },
        (all, latest) => {
          if (latest.kind === 'caughtUp' && !writing) {
            writing = Promise.all(
              Array.from({ length: writers }, async (_, writer) => {
                for (let n = 0; n < perWriter; n++)
                  await getStore().appendToStream(s.stream(`w${writer}`), newEvents(1, type))
              }),
            )
          }
          return eventsOf(all).length === writers * perWriter
        },
      )
      await writing
      const events = eventsOf(received)
      for (let i = 1; i < events.length; i++)
        expect(events[i]!.position).toBeGreaterThan(events[i - 1]!.position)
      for (let writer = 0; writer < writers; writer++) {
        const revisions = events.filter((e) => e.streamName === s.stream(`w${writer}`)).map((e) => e.revision)
        expect(revisions).toEqual(Array.from({ length: perWriter }, (_, n) => BigInt(n)))
      }
      const fromAll = await collect(
        getStore().readAll({ fromPosition: events[0]!.position, eventTypes: [type] }),
      )
      expect(fromAll.map((event) => event.position)).toEqual(events.map((event) => event.position))
    })

    it('starts after the given position', async () => {
      const s = scenario('sub')
      const type = s.type('Happened')
      await getStore().appendToStream(s.stream(), newEvents(3, type))
      const [first] = await collect(getStore().readStream(s.stream(), { maxCount: 1 }))
      const received = await takeUntil(
        getStore(),
        { fromPosition: first!.position, eventTypes: [type] },
        (_, latest) => latest.kind === 'caughtUp',
      )
      expect(indexes(eventsOf(received))).toEqual([1, 2])
    })

    it('delivers only the asked event types', async () => {
      const s = scenario('sub')
      const [wanted, other] = [s.type('Wanted'), s.type('Other')]
      const start = await getStore().headPosition()
      for (const type of [wanted, other, wanted, other])
        await getStore().appendToStream(s.stream(), newEvents(1, type))
      const received = await takeUntil(
        getStore(),
        { fromPosition: start, eventTypes: [wanted] },
        (_, latest) => latest.kind === 'caughtUp',
      )
      expect(eventsOf(received).map((event) => [event.type, event.revision])).toEqual([
        [wanted, 0n],
        [wanted, 2n],
      ])
    })

    it('delivers every event but those of system streams when no types are given', async () => {
      const s = scenario('sub')
      const start = await getStore().headPosition()
      await getStore().setStreamMetadata(s.stream(), { owner: 'contract' })
      const result = await getStore().appendToStream(s.stream(), newEvents(1, s.type('Happened')))
      const received = await takeUntil(getStore(), { fromPosition: start }, (all) =>
        eventsOf(all).some((event) => event.position === result.position),
      )
      expect(eventsOf(received).some((event) => event.streamName.startsWith('$'))).toBe(false)
      expect(eventsOf(received).filter((event) => event.streamName === s.stream())).toHaveLength(1)
    })

    it('reports checkpoints past events that do not match its filter', async () => {
      const s = scenario('sub')
      const start = await getStore().headPosition()
      const result = await getStore().appendToStream(s.stream(), newEvents(40, s.type('Unwanted')))
      const received = await takeUntil(
        getStore(),
        { fromPosition: start, eventTypes: [s.type('Wanted')] },
        (_, latest) => latest.kind === 'checkpoint',
      )
      const checkpoint = received.at(-1)
      expect(checkpoint).toMatchObject({ kind: 'checkpoint' })
      const position = (checkpoint as { position: bigint }).position
      expect(position).toBeGreaterThan(start)
      expect(position).toBeLessThanOrEqual(await getStore().headPosition())
      expect(eventsOf(received)).toEqual([])
      expect(result.position).toBeGreaterThan(start)
    })

    it('ends iteration when the signal aborts while live', async () => {
      const s = scenario('sub')
      const controller = new AbortController()
      const start = await getStore().headPosition()
      const seen: string[] = []
      for await (const message of getStore().subscribeToAll({
        fromPosition: start,
        eventTypes: [s.type('Never')],
        signal: controller.signal,
      })) {
        seen.push(message.kind)
        if (message.kind === 'caughtUp') controller.abort()
      }
      expect(seen.at(-1)).toBe('caughtUp')
    })

    it('yields nothing when the signal is already aborted', async () => {
      const controller = new AbortController()
      controller.abort()
      expect(await collect(getStore().subscribeToAll({ signal: controller.signal }))).toEqual([])
    })

    it('ends when the consumer stops iterating, and the store stays usable', async () => {
      const s = scenario('sub')
      const start = await getStore().headPosition()
      await getStore().appendToStream(s.stream(), newEvents(2, s.type('Happened')))
      for await (const message of getStore().subscribeToAll({
        fromPosition: start,
        eventTypes: [s.type('Happened')],
      })) {
        if (message.kind === 'event') break
      }
      const result = await getStore().appendToStream(s.stream(), newEvents(1, s.type('Happened')))
      expect(result.nextRevision).toBe(2n)
    })
  })
}
