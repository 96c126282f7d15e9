import { createTestClock } from 'annals/testing/read-side'
import { afterEach, describe, expect, it } from 'vitest'
import { connectClient, subscribe } from '../e2e/fixtures/subscribe-over-ws.ts'
import { INSTALL, startPowerPlant, type PowerPlant } from './power-plant-harness.ts'

const MINUTE = 60_000
const STATUS = `query($id: ID!, $token: String) { batteryStatus(batteryId: $id, consistentWith: $token) { status online } }`
const DISPATCH = `query($id: ID!, $token: String) {
  dispatchStatus(dispatchId: $id, consistentWith: $token) { status allocatedKw batteries failureReason deadlineAt }
}`

type Frame<TField extends string> = Readonly<Record<TField, { __typename: string; position?: string }>>

const plants: PowerPlant[] = []
afterEach(async () => {
  await Promise.all(plants.splice(0).map((plant) => plant.close()))
})

async function plantWith(options: Parameters<typeof startPowerPlant>[0]) {
  const plant = await startPowerPlant(options)
  plants.push(plant)
  return plant
}

async function token(plant: PowerPlant, mutation: string, variables?: Record<string, unknown>) {
  const data = await plant.run(mutation, variables)
  return (Object.values(data)[0] as { token: string }).token
}

describe('the battery heartbeat, through GraphQL', () => {
  it('marks a battery offline after five silent minutes, counted from its last telemetry', async () => {
    const clock = createTestClock()
    const plant = await plantWith({ clock })
    const heartbeat = plant.readSide.workflow('batteryHeartbeat')
    const client = connectClient(plant.wsUrl)
    const feed = subscribe<Frame<'batteryEvents'>>(
      client,
      `subscription { batteryEvents(id: "hb-1") { __typename ... on BatteryWentOffline { position data { silentForMs } } } }`,
    )
    await heartbeat.reached(
      BigInt(await token(plant, INSTALL, { id: 'hb-1', siteId: 'site-hb', energyKwh: 5 })),
    )
    clock.advance(4 * MINUTE)
    const reported = await token(
      plant,
      'mutation { reportTelemetry(id: "hb-1", input: { energyKwh: 4 }) { token } }',
    )
    await heartbeat.reached(BigInt(reported))

    // Six minutes after installation, two after the telemetry: still online.
    clock.advance(2 * MINUTE)
    await heartbeat.idle()
    expect((await plant.run(STATUS, { id: 'hb-1', token: reported }))['batteryStatus']).toEqual({
      status: 'idle',
      online: true,
    })
    expect(await heartbeat.instance('hb-1')).toMatchObject({ status: 'active', state: { offline: false } })

    // Five minutes after the telemetry: offline, visible on the feed and in the status.
    clock.advance(3 * MINUTE)
    await heartbeat.idle()
    const frames = await feed.take(3)
    expect(frames.map((frame) => frame.batteryEvents.__typename)).toEqual([
      'BatteryInstalled',
      'TelemetryReported',
      'BatteryWentOffline',
    ])
    const offlineAt = frames[2]!.batteryEvents.position
    expect((await plant.run(STATUS, { id: 'hb-1', token: offlineAt }))['batteryStatus']).toEqual({
      status: 'idle',
      online: false,
    })

    // Its next telemetry brings it back.
    const back = await token(
      plant,
      'mutation { reportTelemetry(id: "hb-1", input: { energyKwh: 3 }) { token } }',
    )
    expect((await plant.run(STATUS, { id: 'hb-1', token: back }))['batteryStatus']).toMatchObject({
      online: true,
    })
    feed.close()
    await client.dispose()
  })
})

describe('the dispatch deadline, through GraphQL', () => {
  it('fails a dispatch not completed by its deadline and stops its batteries', async () => {
    const clock = createTestClock()
    // The dispatcher is down: an operator allocates by hand and never completes the dispatch.
    const plant = await plantWith({ clock, readSide: { reactors: [] } })
    const deadline = plant.readSide.workflow('dispatchDeadline')
    await plant.run(INSTALL, { id: 'late-b1', siteId: 'site-late', energyKwh: 8 })
    const client = connectClient(plant.wsUrl)
    const feed = subscribe<Frame<'dispatchEvents'>>(
      client,
      'subscription { dispatchEvents(id: "late-1") { __typename ... on DispatchFailed { position data { releasedBatteryIds } } } }',
    )
    const requested = await token(
      plant,
      'mutation { requestDispatch(id: "late-1", input: { siteId: "site-late", powerKw: 5, durationMinutes: 30, deadlineSeconds: 60 }) { token } }',
    )
    expect((await plant.run(DISPATCH, { id: 'late-1', token: requested }))['dispatchStatus']).toMatchObject({
      status: 'REQUESTED',
    })
    await plant.run(
      'mutation { startDischarging(id: "late-b1", input: { powerKw: 5, dispatchId: "late-1" }) { token } }',
    )
    // allocateBattery is internal (the dispatcher reactor sends it): no mutation, so the test sends it to the bus.
    const allocated = await plant.commands.execute({
      aggregate: 'Dispatch',
      command: 'allocateBattery',
      aggregateId: 'late-1',
      input: { batteryId: 'late-b1', powerKw: 5 },
    })
    await deadline.reached(allocated.position)
    await feed.take(2)

    clock.advance(MINUTE + 1)
    await deadline.idle()
    const [failed] = await feed.take(1)
    expect(failed!.dispatchEvents).toMatchObject({
      __typename: 'DispatchFailed',
      data: { releasedBatteryIds: ['late-b1'] },
    })
    const at = failed!.dispatchEvents.position
    expect((await plant.run(DISPATCH, { id: 'late-1', token: at }))['dispatchStatus']).toMatchObject({
      status: 'FAILED',
      allocatedKw: 5,
      batteries: 1,
      failureReason: 'Not completed by its deadline',
    })
    expect((await plant.run(STATUS, { id: 'late-b1', token: at }))['batteryStatus']).toMatchObject({
      status: 'idle',
    })
    expect(await deadline.instance('late-1')).toMatchObject({ status: 'completed', timers: [] })
    feed.close()
    await client.dispose()
  })

  it('cancels the deadline of a dispatch completed in time', async () => {
    const clock = createTestClock()
    const plant = await plantWith({ clock })
    const deadline = plant.readSide.workflow('dispatchDeadline')
    await plant.run(INSTALL, { id: 'ontime-b1', siteId: 'site-ontime', energyKwh: 8 })
    const client = connectClient(plant.wsUrl)
    const feed = subscribe<Frame<'dispatchEvents'>>(
      client,
      'subscription { dispatchEvents(id: "ontime-1") { __typename ... on DispatchCompleted { position } } }',
    )
    await plant.run(
      'mutation { requestDispatch(id: "ontime-1", input: { siteId: "site-ontime", powerKw: 5, durationMinutes: 30, deadlineSeconds: 60 }) { token } }',
    )
    const frames = await feed.take(3)
    const completed = frames[2]!.dispatchEvents
    expect(completed.__typename).toBe('DispatchCompleted')
    await deadline.reached(BigInt(completed.position!))
    expect(await deadline.instance('ontime-1')).toMatchObject({ status: 'completed', timers: [] })

    clock.advance(10 * MINUTE)
    await deadline.idle()
    const types: string[] = []
    for await (const event of plant.store.readStream('Dispatch-ontime-1')) types.push(event.type)
    expect(types).toEqual(['DispatchRequested', 'BatteryAllocated', 'DispatchCompleted'])
    expect(
      (await plant.run(DISPATCH, { id: 'ontime-1', token: completed.position }))['dispatchStatus'],
    ).toMatchObject({
      status: 'FULFILLED',
    })
    feed.close()
    await client.dispose()
  })
})
