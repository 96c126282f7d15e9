import { PassThrough } from 'node:stream'
import type { AllStreamResolvedEvent, AllStreamSubscription } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import type { SubscriptionMessage } from './event-store.ts'
import { EsdbSubscriptionQueue } from './esdb-subscription-queue.ts'

// A stand-in for the client's subscription stream: an object-mode stream that buffers like the real one.
function fakeSubscription() {
  const stream = new PassThrough({ objectMode: true, highWaterMark: 64 })
  return stream as unknown as AllStreamSubscription & PassThrough
}

const resolved = (index: number) => ({ commitPosition: BigInt(index) }) as unknown as AllStreamResolvedEvent
const toMessage = (event: AllStreamResolvedEvent): SubscriptionMessage => ({
  kind: 'checkpoint',
  position: event.commitPosition!,
})
const describeMessage = (message: SubscriptionMessage) =>
  message.kind === 'checkpoint' ? Number(message.position) : message.kind

async function takeN(queue: EsdbSubscriptionQueue, count: number): Promise<(string | number)[]> {
  const taken: (string | number)[] = []
  while (taken.length < count) taken.push(describeMessage((await queue.take())!))
  return taken
}

describe('EsdbSubscriptionQueue', () => {
  it('places a marker after the events the stream still buffers when it is reported', async () => {
    const subscription = fakeSubscription()
    const queue = new EsdbSubscriptionQueue(toMessage, { highWater: 2 })
    queue.attach(subscription)
    for (let index = 0; index < 6; index++) subscription.write(resolved(index))
    expect(subscription.readableLength).toBeGreaterThan(0)
    queue.mark(subscription, { kind: 'caughtUp' })
    subscription.write(resolved(6))
    expect(await takeN(queue, 8)).toEqual([0, 1, 2, 3, 4, 5, 'caughtUp', 6])
  })

  it('leaves out events the conversion drops, and still places markers after them', async () => {
    const subscription = fakeSubscription()
    const queue = new EsdbSubscriptionQueue((event) =>
      event.commitPosition! % 2n === 0n ? toMessage(event) : undefined,
    )
    queue.attach(subscription)
    for (let index = 0; index < 4; index++) subscription.write(resolved(index))
    queue.mark(subscription, { kind: 'caughtUp' })
    expect(await takeN(queue, 3)).toEqual([0, 2, 'caughtUp'])
  })

  it('throws the stream error after the items taken before it', async () => {
    const subscription = fakeSubscription()
    const queue = new EsdbSubscriptionQueue(toMessage)
    queue.attach(subscription)
    subscription.write(resolved(1))
    subscription.destroy(new Error('dropped'))
    expect(await takeN(queue, 1)).toEqual([1])
    await expect(queue.take()).rejects.toThrow('dropped')
  })

  it('ends with StoreUnavailableError when the stream ends by itself', async () => {
    const subscription = fakeSubscription()
    const queue = new EsdbSubscriptionQueue(toMessage)
    queue.attach(subscription)
    subscription.end()
    await expect(queue.take()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
  })

  it('returns undefined once stopped, waking a waiting taker, and resumes a paused stream', async () => {
    const subscription = fakeSubscription()
    const queue = new EsdbSubscriptionQueue(toMessage, { highWater: 1 })
    queue.attach(subscription)
    subscription.write(resolved(1))
    expect(subscription.isPaused()).toBe(true)
    await queue.take()
    const waiting = queue.take()
    queue.stop()
    expect(await waiting).toBeUndefined()
    expect(subscription.isPaused()).toBe(false)
  })
})
