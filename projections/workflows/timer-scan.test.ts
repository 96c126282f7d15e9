import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import { createTimerScan } from './timer-scan.ts'
import { workflowStream, type WorkflowRecord } from './workflow-records.ts'

const record = (workflow: string, workflowId: string, due: number[]): WorkflowRecord => ({
  workflow,
  workflowId,
  trigger: { kind: 'event', position: '0', type: 'Started', streamName: 's' } as never,
  snapshot: {
    status: 'active',
    state: {},
    timers: due.map((at, index) => ({ name: `t${index}`, id: `${workflowId}-${at}`, due: at })),
    through: '0',
  },
  sent: [],
})

async function write(store: EventStore, workflow: string, workflowId: string, due: number[]) {
  await store.appendToStream(workflowStream(workflow, workflowId), [
    { id: randomUUID(), type: 'WorkflowEventHandled', data: record(workflow, workflowId, due) },
  ])
}

/** The in-memory store, counting the reads of `$all` it serves. */
function counted(inner: EventStore): EventStore & { reads: number } {
  const store = Object.assign(Object.create(inner) as EventStore, { reads: 0 })
  store.readAll = (...args: Parameters<EventStore['readAll']>) => {
    store.reads++
    return inner.readAll(...args)
  }
  return store
}

describe('the timer scan of the partitions starting on a replica', () => {
  it('reads the records once for the partitions that ask together, each getting its own instances', async () => {
    const store = counted(createInMemoryEventStore())
    await write(store, 'alarm', 'a1', [10])
    await write(store, 'alarm', 'a2', [20, 30])
    await write(store, 'alarm', 'a1', [40]) // a later record of a1 replaces its timers
    await write(store, 'deadline', 'd1', [50])
    await write(store, 'deadline', 'd2', []) // nothing pending
    const scan = createTimerScan(store)
    const odd = (id: string) => Number(id.slice(1)) % 2 === 1
    const [alarmOdd, alarmEven, deadline, alarmOddAgain] = await Promise.all([
      scan.pending({ workflow: 'alarm', owns: odd }),
      scan.pending({ workflow: 'alarm', owns: (id) => !odd(id) }),
      scan.pending({ workflow: 'deadline', owns: () => true }),
      // The same partition asking again (stopped and started before the read began) finds the same timers.
      scan.pending({ workflow: 'alarm', owns: odd }),
    ])
    expect(store.reads).toBe(1)
    expect(alarmOddAgain).toEqual(alarmOdd)
    expect([...alarmOdd].map(([id, timers]) => [id, timers.map((t) => t.due)])).toEqual([['a1', [40]]])
    expect([...alarmEven].map(([id, timers]) => [id, timers.map((t) => t.due)])).toEqual([['a2', [20, 30]]])
    expect([...deadline.keys()]).toEqual(['d1'])

    // A partition that asks later (started by a later rebalance) reads again: what it finds is current.
    await write(store, 'alarm', 'a3', [60])
    const later = await scan.pending({ workflow: 'alarm', owns: odd })
    expect(store.reads).toBe(2)
    expect([...later.keys()].sort()).toEqual(['a1', 'a3'])
  })

  it('fails every request of a read that failed, so each partition tries again', async () => {
    const inner = createInMemoryEventStore()
    const store = Object.assign(Object.create(inner) as EventStore, {
      readAll: () => ({
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('the store went away')) }),
      }),
    })
    const scan = createTimerScan(store)
    const asked = [
      scan.pending({ workflow: 'alarm', owns: () => true }),
      scan.pending({ workflow: 'x', owns: () => true }),
    ]
    for (const request of asked) await expect(request).rejects.toThrow('the store went away')
  })
})
