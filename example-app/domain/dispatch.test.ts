import { describe, expect, it } from 'vitest'
import { aggregateSpec } from 'annals/testing'
import { Dispatch } from './dispatch.ts'

const dispatch = aggregateSpec(Dispatch)
const requested = {
  type: 'DispatchRequested',
  data: { siteId: 'site-1', powerKw: 8, durationMinutes: 30 },
} as const
const allocated = (batteryId: string, powerKw: number) =>
  ({ type: 'BatteryAllocated', data: { batteryId, powerKw } }) as const

describe('a dispatch', () => {
  it('is requested from a site', () =>
    dispatch
      .when('requestDispatch', { siteId: 'site-1', powerKw: 8, durationMinutes: 30 })
      .thenEmits([requested]))

  it('needs a site or a region, not both', () =>
    dispatch
      .when('requestDispatch', { siteId: 's', region: 'r', powerKw: 1, durationMinutes: 1 })
      .thenThrows('BAD_INPUT'))

  it('is fulfilled when its batteries give all the power asked for', () =>
    dispatch
      .given([requested, allocated('b-1', 5), allocated('b-2', 3)])
      .when('completeDispatch', {})
      .thenEmits([
        { type: 'DispatchCompleted', data: { outcome: 'fulfilled', requestedKw: 8, allocatedKw: 8 } },
      ]))

  it('is partly fulfilled when they give less', () =>
    dispatch
      .given([requested, allocated('b-1', 5)])
      .when('completeDispatch', {})
      .thenEmits([
        { type: 'DispatchCompleted', data: { outcome: 'partly-fulfilled', requestedKw: 8, allocatedKw: 5 } },
      ]))

  it('counts a battery once', () =>
    dispatch
      .given([requested, allocated('b-1', 5)])
      .when('allocateBattery', { batteryId: 'b-1', powerKw: 5 })
      .thenThrows('BATTERY_ALREADY_ALLOCATED'))

  it('takes no allocation once complete', () =>
    dispatch
      .given([
        requested,
        { type: 'DispatchCompleted', data: { outcome: 'partly-fulfilled', requestedKw: 8, allocatedKw: 0 } },
      ])
      .when('allocateBattery', { batteryId: 'b-1', powerKw: 5 })
      .thenThrows('DISPATCH_CLOSED'))

  it('cannot be completed before it is requested', () =>
    dispatch.when('completeDispatch', {}).thenThrows('DISPATCH_NOT_REQUESTED'))

  it('fails naming the batteries it releases, and only while open', () => {
    const failed = {
      type: 'DispatchFailed',
      data: { reason: 'Not completed by its deadline', releasedBatteryIds: ['b1'] },
    } as const
    dispatch
      .given([requested, allocated('b1', 5)])
      .when('failDispatch', { reason: 'Not completed by its deadline' })
      .thenEmits([failed])
      .thenState((state) => expect(state.status).toBe('failed'))
    dispatch
      .given([requested, failed])
      .when('failDispatch', { reason: 'again' })
      .thenThrows('DISPATCH_CLOSED')
  })
})
