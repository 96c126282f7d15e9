import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, subscribe } from '../e2e/fixtures/subscribe-over-ws.ts'
import { INSTALL, startPowerPlant, type PowerPlant } from './power-plant-harness.ts'

interface FleetFrame {
  fleetBySiteChanged: {
    kind: string
    position: string
    row: { batteries: number; dischargingUnits: number } | null
  }
}
interface DispatchFrame {
  dispatchEvents: { __typename: string; position: string; data?: { outcome?: string; allocatedKw?: number } }
}

describe('a dispatch, through GraphQL over HTTP and graphql-ws', () => {
  let plant: PowerPlant
  beforeAll(async () => {
    plant = await startPowerPlant()
  })
  afterAll(() => plant.close())

  it('commands charged batteries to discharge, and the fleet feed shows them going', async () => {
    // 8 kWh each with a 20% reserve of 10 kWh: 6 kWh available, enough for 5 kW over 30 minutes.
    for (const id of ['d-b1', 'd-b2', 'd-b3'])
      await plant.run(INSTALL, { id, siteId: 'site-d', energyKwh: 8 })
    const client = connectClient(plant.wsUrl)
    const fleet = subscribe<FleetFrame>(
      client,
      'subscription { fleetBySiteChanged(siteId: "site-d") { kind position row { batteries dischargingUnits } } }',
    )
    const [current] = await fleet.take(1)
    expect(current?.fleetBySiteChanged.kind).toBe('CURRENT')

    const events = subscribe<DispatchFrame>(
      client,
      `subscription { dispatchEvents(id: "dispatch-1") {
        __typename
        ... on DispatchRequested { position }
        ... on BatteryAllocated { position }
        ... on DispatchCompleted { position data { outcome allocatedKw } }
      } }`,
    )
    await plant.run(
      'mutation { requestDispatch(id: "dispatch-1", input: { siteId: "site-d", powerKw: 8, durationMinutes: 30 }) { token } }',
    )

    // The reactor allocates two batteries (5 kW + 3 kW) and closes the dispatch: four events in all.
    const dispatchFrames = await events.take(4)
    expect(dispatchFrames.map((frame) => frame.dispatchEvents.__typename)).toEqual([
      'DispatchRequested',
      'BatteryAllocated',
      'BatteryAllocated',
      'DispatchCompleted',
    ])
    const completed = dispatchFrames[3]!.dispatchEvents
    expect(completed.data).toEqual({ outcome: 'FULFILLED', allocatedKw: 8 })

    const discharging = await plant.run<{ batteryStatusList: { nodes: { powerKw: number }[] } }>(
      `{ batteryStatusList(where: { siteId: { eq: "site-d" }, status: { eq: discharging } }, consistentWith: "${completed.position}") {
        nodes { batteryId powerKw }
      } }`,
    )
    const nodes = discharging.batteryStatusList.nodes
    expect(nodes.map((node) => node.powerKw).sort()).toEqual([3, 5])

    // The live fleet feed saw the site go from none to two discharging units, one change at a time.
    let seen = 0
    while (seen < 2) {
      const [frame] = await fleet.take(1)
      expect(frame?.fleetBySiteChanged.kind).toBe('UPDATED')
      seen = frame!.fleetBySiteChanged.row!.dischargingUnits
    }
    expect(seen).toBe(2)
    fleet.close()
    events.close()
    await client.dispose()
  })

  it('records a partly fulfilled dispatch when the site cannot give all the power', async () => {
    await plant.run(INSTALL, { id: 'p-b1', siteId: 'site-p', energyKwh: 8 })
    const requested = await plant.run<{ requestDispatch: { token: string } }>(
      'mutation { requestDispatch(id: "dispatch-2", input: { siteId: "site-p", powerKw: 20, durationMinutes: 10 }) { token } }',
    )
    expect(requested.requestDispatch.token).toMatch(/^\d+$/)
    const client = connectClient(plant.wsUrl)
    const events = subscribe<DispatchFrame>(
      client,
      'subscription { dispatchEvents(id: "dispatch-2") { __typename ... on DispatchCompleted { data { outcome allocatedKw } } } }',
    )
    const frames = await events.take(3)
    expect(frames[2]?.dispatchEvents).toEqual({
      __typename: 'DispatchCompleted',
      data: { outcome: 'PARTLY_FULFILLED', allocatedKw: 5 },
    })
    events.close()
    await client.dispose()
  })
})
