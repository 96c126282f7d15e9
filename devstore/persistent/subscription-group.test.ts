import { describe, expect, it } from 'vitest'
import { CheckpointTracker } from './checkpoint-tracker.ts'
import type { ConsumerStrategy } from './group-settings.ts'
import { SubscriptionGroup, type GroupEffect, type GroupMessage } from './subscription-group.ts'

function groupOf(
  options: { strategy?: ConsumerStrategy; maxRetryCount?: number; maxSubscriberCount?: number } = {},
) {
  const tracker = new CheckpointTracker(
    { checkpointAfterMs: 0, minCheckpointCount: 1, maxCheckpointCount: 100 },
    undefined,
    0,
  )
  return new SubscriptionGroup<string>(
    {
      strategy: options.strategy ?? 'RoundRobin',
      messageTimeoutMs: 100,
      maxRetryCount: options.maxRetryCount ?? 2,
      maxSubscriberCount: options.maxSubscriberCount ?? 0,
    },
    tracker,
  )
}

const message = (sequence: number, stream = 'orders'): GroupMessage<string> => ({
  id: `id-${sequence}`,
  sequence: BigInt(sequence),
  pinKey: stream,
  payload: `event ${sequence}`,
})

const deliveries = (effects: GroupEffect<string>[]) =>
  effects.flatMap((effect) =>
    effect.kind === 'deliver' ? [`${effect.consumerId}:${effect.message.id}:${effect.retryCount}`] : [],
  )

describe('SubscriptionGroup', () => {
  it('delivers no more than a consumer may hold', () => {
    const group = groupOf()
    group.connect('a', 2)
    group.offer([message(0), message(1), message(2)])
    expect(deliveries(group.dispatch(0))).toEqual(['a:id-0:0', 'a:id-1:0'])
    group.ack(['id-0'], 0)
    expect(deliveries(group.dispatch(0))).toEqual(['a:id-2:0'])
  })

  it('retries a message that times out, with a higher retry count', () => {
    const group = groupOf()
    group.connect('a', 5)
    group.offer([message(0)])
    group.dispatch(0)
    expect(group.expire(99)).toEqual([])
    expect(group.expire(100)).toEqual([])
    expect(deliveries(group.dispatch(100))).toEqual(['a:id-0:1'])
  })

  it('parks a message once it timed out maxRetryCount times', () => {
    const group = groupOf({ maxRetryCount: 1 })
    group.connect('a', 5)
    group.offer([message(0)])
    group.dispatch(0)
    group.expire(100)
    group.dispatch(100)
    const effects = group.expire(200)
    expect(effects.map((effect) => effect.kind)).toEqual(['park'])
    expect(group.checkpoints.due(200)).toBe(0n)
  })

  it('retries, skips and parks nacked messages as asked', () => {
    const group = groupOf()
    group.connect('a', 5)
    group.offer([message(0), message(1), message(2)])
    group.dispatch(0)
    expect(group.nack('a', ['id-0'], 'retry', 'later')).toEqual([])
    expect(group.nack('a', ['id-1'], 'skip', 'no')).toEqual([])
    const parked = group.nack('a', ['id-2'], 'park', 'poison')
    expect(parked).toEqual([{ kind: 'park', message: message(2), reason: 'poison' }])
    expect(deliveries(group.dispatch(0))).toEqual(['a:id-0:1'])
  })

  it('drops the consumer that nacks with stop and retries what it held', () => {
    const group = groupOf()
    group.connect('a', 5)
    group.connect('b', 5)
    group.offer([message(0)])
    group.dispatch(0)
    expect(group.nack('a', ['id-0'], 'stop', 'bye')).toEqual([
      { kind: 'drop', consumerId: 'a', reason: 'bye' },
    ])
    group.disconnect('a')
    expect(deliveries(group.dispatch(0))).toEqual(['b:id-0:1'])
  })

  it('hands a departed consumer’s messages to the others', () => {
    const group = groupOf()
    group.connect('a', 1)
    group.connect('b', 1)
    group.offer([message(0), message(1), message(2)])
    expect(deliveries(group.dispatch(0))).toEqual(['a:id-0:0', 'b:id-1:0'])
    group.disconnect('a')
    group.ack(['id-1'], 0)
    expect(deliveries(group.dispatch(0))).toEqual(['b:id-0:1'])
  })

  it('spreads messages over consumers under RoundRobin', () => {
    const group = groupOf()
    group.connect('a', 5)
    group.connect('b', 5)
    group.offer([message(0), message(1), message(2), message(3)])
    expect(deliveries(group.dispatch(0))).toEqual(['a:id-0:0', 'b:id-1:0', 'a:id-2:0', 'b:id-3:0'])
  })

  it('sends everything to the first consumer under DispatchToSingle while it has room', () => {
    const group = groupOf({ strategy: 'DispatchToSingle' })
    group.connect('a', 5)
    group.connect('b', 5)
    group.offer([message(0), message(1), message(2)])
    expect(deliveries(group.dispatch(0))).toEqual(['a:id-0:0', 'a:id-1:0', 'a:id-2:0'])
  })

  it('refuses consumers beyond maxSubscriberCount', () => {
    const group = groupOf({ maxSubscriberCount: 1 })
    expect(group.connect('a', 1)).toBe(true)
    expect(group.connect('b', 1)).toBe(false)
  })

  it('delivers replayed parked messages before new ones without counting them for checkpoints', () => {
    const group = groupOf()
    group.connect('a', 5)
    group.offer([message(5)])
    group.replay([{ id: 'parked-1', pinKey: 'orders', payload: 'old' }])
    expect(deliveries(group.dispatch(0))).toEqual(['a:parked-1:0', 'a:id-5:0'])
    group.ack(['parked-1'], 0)
    expect(group.checkpoints.due(0, true)).toBeUndefined()
    group.ack(['id-5'], 0)
    expect(group.checkpoints.due(0, true)).toBe(5n)
  })

  it('never times out a message when the message timeout is 0', () => {
    const tracker = new CheckpointTracker(
      { checkpointAfterMs: 0, minCheckpointCount: 1, maxCheckpointCount: 1 },
      undefined,
      0,
    )
    const group = new SubscriptionGroup<string>(
      { strategy: 'RoundRobin', messageTimeoutMs: 0, maxRetryCount: 0, maxSubscriberCount: 0 },
      tracker,
    )
    group.connect('a', 1)
    group.offer([message(0)])
    group.dispatch(0)
    expect(group.expire(Number.MAX_SAFE_INTEGER)).toEqual([])
    expect(group.inFlightCount).toBe(1)
  })

  it('keeps acks of unknown ids harmless', () => {
    const group = groupOf()
    group.connect('a', 5)
    group.ack(['nobody'], 0)
    expect(group.nack('a', ['nobody'], 'park', 'x')).toEqual([])
    expect(group.inFlightCount).toBe(0)
  })
})
