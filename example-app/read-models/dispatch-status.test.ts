import { describe, expect, it } from 'vitest'
import { projectionSpec } from 'annals/testing/read-side'
import { dispatchStatus } from './dispatch-status.ts'

const spec = projectionSpec(dispatchStatus)
const at = (time: string) => new Date(`2026-01-01T${time}Z`)
const requested = (dispatchId: string, deadlineSeconds?: number) => ({
  aggregateId: dispatchId,
  type: 'DispatchRequested',
  data: {
    region: 'north',
    powerKw: 20,
    durationMinutes: 30,
    ...(deadlineSeconds ? { deadlineSeconds } : {}),
  },
  at: at('10:00:00'),
})

describe('the dispatch status read model', () => {
  it('opens a row per request, with its deadline from the time it was requested', async () => {
    const outcome = await spec.given([requested('d1', 90), requested('d2')])
    outcome.thenRows([
      {
        dispatchId: 'd1',
        status: 'requested',
        requestedKw: 20,
        allocatedKw: 0,
        batteries: 0,
        deadlineAt: at('10:01:30'),
        updatedAt: at('10:00:00'),
      },
      {
        dispatchId: 'd2',
        status: 'requested',
        requestedKw: 20,
        allocatedKw: 0,
        batteries: 0,
        updatedAt: at('10:00:00'),
      },
    ])
  })

  it('adds each allocated battery, then closes with the outcome', async () => {
    const outcome = await spec.given([
      requested('d1'),
      { aggregateId: 'd1', type: 'BatteryAllocated', data: { batteryId: 'b1', powerKw: 8 } },
      {
        aggregateId: 'd1',
        type: 'BatteryAllocated',
        data: { batteryId: 'b2', powerKw: 5 },
        at: at('10:00:05'),
      },
      {
        aggregateId: 'd1',
        type: 'DispatchCompleted',
        data: { outcome: 'partly-fulfilled', requestedKw: 20, allocatedKw: 13 },
        at: at('10:00:09'),
      },
    ])
    outcome.thenRow('d1', (row) =>
      expect(row).toMatchObject({
        status: 'partly-fulfilled',
        allocatedKw: 13,
        batteries: 2,
        updatedAt: at('10:00:09'),
      }),
    )
  })

  it('records why a dispatch failed', async () => {
    const outcome = await spec.given([
      requested('d1', 60),
      {
        aggregateId: 'd1',
        type: 'DispatchFailed',
        data: { reason: 'deadline passed', releasedBatteryIds: [] },
      },
    ])
    outcome.thenRow('d1', (row) =>
      expect(row).toMatchObject({ status: 'failed', failureReason: 'deadline passed' }),
    )
    outcome.thenNoRow('d2')
  })
})
