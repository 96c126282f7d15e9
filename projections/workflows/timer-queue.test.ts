import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TimerQueue } from './timer-queue.ts'

describe('TimerQueue', () => {
  it('takes the live timers due by a time, earliest first, whatever the order they were added in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 20 }))),
        (adds) => {
          const queue = new TimerQueue()
          const live = new Map<string, number>()
          adds.forEach(([due, instance], n) => {
            queue.add({ due, workflowId: `w${instance}`, name: 't', id: `id-${n}` })
            live.set(`w${instance}`, due)
          })
          const taken = queue.takeDue(500)
          expect(taken.map((t) => t.due)).toEqual(
            [...live.values()].filter((due) => due <= 500).sort((a, b) => a - b),
          )
          expect(queue.size).toBe([...live.values()].filter((due) => due > 500).length)
        },
      ),
    )
  })

  it('keeps its memory within twice the pending timers when they are rescheduled again and again', () => {
    const queue = new TimerQueue()
    for (let round = 0; round < 50; round++) {
      for (let n = 0; n < 1_000; n++) {
        queue.add({ due: 1_000_000 + round, workflowId: `w${n}`, name: 'silence', id: `${n}-${round}` })
      }
    }
    expect(queue.size).toBe(1_000)
    expect(queue.entries).toBeLessThanOrEqual(2 * 1_000 + 1_024 + 1)
    expect(queue.takeDue(Infinity)).toHaveLength(1_000)
  })

  it('never gives a removed timer', () => {
    const queue = new TimerQueue()
    queue.add({ due: 1, workflowId: 'w', name: 'a', id: '1' })
    queue.add({ due: 2, workflowId: 'w', name: 'b', id: '2' })
    queue.remove('w', 'a')
    expect(queue.nextDue()).toBe(2)
    expect(queue.takeDue(10).map((t) => t.name)).toEqual(['b'])
  })
})
