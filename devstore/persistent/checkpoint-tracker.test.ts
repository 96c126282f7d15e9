import { describe, expect, it } from 'vitest'
import { CheckpointTracker } from './checkpoint-tracker.ts'

const policy = { checkpointAfterMs: 1_000, minCheckpointCount: 2, maxCheckpointCount: 4 }

function trackerAfterReading(count: number, start?: bigint): CheckpointTracker {
  const tracker = new CheckpointTracker(policy, start, 0)
  for (let sequence = 0n; sequence < BigInt(count); sequence++) tracker.read(sequence)
  return tracker
}

describe('CheckpointTracker', () => {
  it('checkpoints the last message before the oldest one outstanding', () => {
    const tracker = trackerAfterReading(4)
    tracker.finish(0n)
    tracker.finish(2n)
    tracker.finish(3n)
    expect(tracker.due(5_000)).toBe(0n)
    tracker.finish(1n)
    expect(tracker.due(5_000)).toBe(3n)
  })

  it('reports a checkpoint as stored only once its write completed, and never moves it back', () => {
    const tracker = trackerAfterReading(4, undefined)
    for (const sequence of [0n, 1n, 2n, 3n]) tracker.finish(sequence)
    const due = tracker.due(0)
    expect(due).toBe(3n)
    tracker.written(3n, 0)
    expect(tracker.checkpoint).toBe(3n)
    expect(tracker.storedCheckpoint).toBeUndefined()
    expect(tracker.due(5_000, true)).toBeUndefined()
    tracker.stored(3n)
    tracker.stored(1n)
    expect(tracker.storedCheckpoint).toBe(3n)
  })

  it('waits for the time bound while fewer than the maximum finished', () => {
    const tracker = trackerAfterReading(3)
    tracker.finish(0n)
    tracker.finish(1n)
    expect(tracker.due(999)).toBeUndefined()
    expect(tracker.due(1_000)).toBe(1n)
  })

  it('waits for the minimum count even after the time bound', () => {
    const tracker = trackerAfterReading(3)
    tracker.finish(0n)
    expect(tracker.due(10_000)).toBeUndefined()
    expect(tracker.due(10_000, true)).toBe(0n)
  })

  it('checkpoints at once when the maximum count finished', () => {
    const tracker = trackerAfterReading(4)
    for (const sequence of [0n, 1n, 2n, 3n]) tracker.finish(sequence)
    expect(tracker.due(1)).toBe(3n)
  })

  it('says nothing is due right after a checkpoint was written', () => {
    const tracker = trackerAfterReading(4)
    for (const sequence of [0n, 1n, 2n, 3n]) tracker.finish(sequence)
    tracker.written(3n, 1)
    expect(tracker.checkpoint).toBe(3n)
    expect(tracker.due(100_000, true)).toBeUndefined()
  })

  it('counts a message finished twice once', () => {
    const tracker = trackerAfterReading(2)
    tracker.finish(0n)
    tracker.finish(0n)
    expect(tracker.due(5_000)).toBeUndefined()
    expect(tracker.outstandingCount).toBe(1)
  })
})
