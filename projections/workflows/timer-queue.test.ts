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

  it('keeps the live timer of each instance and name through adds and removes, several names an instance', () => {
    const op = fc.tuple(
      fc.boolean(),
      fc.integer({ min: 0, max: 1_000 }),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom('a', 'b', 'c'),
    )
    fc.assert(
      fc.property(fc.array(op), fc.integer({ min: 0, max: 1_000 }), (ops, now) => {
        const queue = new TimerQueue()
        const model = new Map<string, number>()
        ops.forEach(([adds, due, instance, name], n) => {
          if (adds) {
            queue.add({ due, workflowId: `w${instance}`, name, id: `id-${n}` })
            model.set(`w${instance}/${name}`, due)
          } else {
            queue.remove(`w${instance}`, name)
            model.delete(`w${instance}/${name}`)
          }
        })
        expect(queue.size).toBe(model.size)
        const taken = queue.takeDue(now)
        expect(taken.map((t) => `${t.workflowId}/${t.name}@${t.due}`).sort()).toEqual(
          [...model]
            .filter(([, due]) => due <= now)
            .map(([key, due]) => `${key}@${due}`)
            .sort(),
        )
        expect(taken.map((t) => t.due)).toEqual(taken.map((t) => t.due).sort((a, b) => a - b))
        expect(queue.size).toBe([...model.values()].filter((due) => due > now).length)
      }),
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
