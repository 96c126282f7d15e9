import { nameBasedUuid } from 'annals'
import { createTestClock, type TestClock } from 'annals/testing/read-side'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { scheduleDataDir, startScheduleRig, type ScheduleRig } from './fixtures/tank-schedules.ts'

const MINUTE = 60_000
const SCHEDULE_FILL = `mutation($id: ID!, $litres: Int!, $at: DateTime!, $commandId: ID) {
  scheduleFill(id: $id, input: { site: "north", litres: $litres }, at: $at, commandId: $commandId) {
    scheduleId at status token
  }
}`
const CANCEL = `mutation($scheduleId: ID!) { cancelScheduledCommand(scheduleId: $scheduleId) { scheduleId status token } }`
const SCHEDULE_SEAL = `mutation($id: ID!, $at: DateTime!) { scheduleSeal(id: $id, at: $at) { scheduleId token } }`
const PENDING = `query($token: String, $after: String) {
  pendingScheduledCommandsList(consistentWith: $token, orderBy: [{ field: at, direction: asc }], first: 2, after: $after) {
    nodes { scheduleId aggregate command aggregateId at }
    pageInfo { endCursor hasNextPage }
  }
}`
const PENDING_FILLS = `query($token: String) {
  pendingScheduledCommandsList(consistentWith: $token, where: { command: { eq: "fill" } }, first: 1000) {
    nodes { aggregateId }
  }
}`
const LEVEL = `query($id: ID!, $token: String) { tankLevel(tankId: $id, consistentWith: $token) { litres status } }`

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function rig(
  clock: TestClock,
  dataDir?: string,
  options?: { readonly holdCancels?: boolean },
): Promise<ScheduleRig> {
  let dir = dataDir
  if (dir === undefined) {
    const made = await scheduleDataDir()
    cleanups.push(() => made.remove())
    dir = made.dir
  }
  const started = await startScheduleRig(clock, dir, options)
  let closed = false
  cleanups.push(async () => {
    if (!closed) await started.close()
  })
  return {
    ...started,
    close: async () => {
      closed = true
      await started.close()
    },
  }
}

async function scheduleFill(
  service: ScheduleRig,
  id: string,
  at: Date,
  commandId?: string,
): Promise<{ scheduleId: string; at: string; status: string; token: string }> {
  const reply = await service.gateway.gql(SCHEDULE_FILL, { id, litres: 7, at: at.toISOString(), commandId })
  expect(reply.body.errors).toBeUndefined()
  return reply.body.data!['scheduleFill'] as { scheduleId: string; at: string; status: string; token: string }
}

/** Waits until the scheduled-commands workflow has read the log up to `token` and fired what fell due. */
async function settled(service: ScheduleRig, token: string) {
  const workflow = service.readSide.workflow('scheduledCommands')
  await workflow.reached(BigInt(token))
  await workflow.idle()
}

const fills = async (service: ScheduleRig, id: string) =>
  (await service.events(`Tank-${id}`)).filter((event) => event.type === 'TankFilled')

describe('scheduled commands, through GraphQL on the devstore', () => {
  it('sends a scheduled command once, when the clock reaches its time, not before', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    const at = new Date(clock.now() + 10 * MINUTE)
    const schedule = await scheduleFill(service, 'sched-1', at)
    expect(schedule).toMatchObject({ status: 'pending', at: at.toISOString() })

    clock.advance(10 * MINUTE - 1)
    await settled(service, schedule.token)
    expect(await fills(service, 'sched-1')).toHaveLength(0)

    clock.advance(1)
    await settled(service, schedule.token)
    clock.advance(60 * MINUTE)
    await settled(service, schedule.token)
    const filled = await fills(service, 'sched-1')
    expect(filled).toHaveLength(1)
    const level = await service.gateway.gql(LEVEL, { id: 'sched-1', token: String(filled[0]!.position) })
    expect(level.body.data).toEqual({ tankLevel: { litres: 7, status: 'open' } })
  })

  it('sends the command with an id derived from the scheduling event, so sending it again has no second effect', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    const schedule = await scheduleFill(service, 'sched-2', new Date(clock.now() + MINUTE))
    clock.advance(MINUTE)
    await settled(service, schedule.token)

    const [scheduled] = await service.events(`ScheduledCommand-${schedule.scheduleId}`)
    const instance = `annals-workflow-scheduledCommands-${schedule.scheduleId}`
    const timerId = nameBasedUuid(`${instance}/event/${scheduled!.id}/timer/due`)
    const commandId = nameBasedUuid(
      `annals-workflow/scheduledCommands/${schedule.scheduleId}/timer/${timerId}/1`,
    )
    const [filled] = await fills(service, 'sched-2')
    expect(filled!.metadata['commandId']).toBe(commandId)

    const again = await service.gateway.app.annals.commands.execute({
      aggregate: 'Tank',
      command: 'fill',
      aggregateId: 'sched-2',
      input: { site: 'north', litres: 7 },
      commandId,
    })
    expect(again.revision).toBe(filled!.revision)
    expect(await fills(service, 'sched-2')).toHaveLength(1)
  })

  it('schedules once for a commandId sent twice', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    const at = new Date(clock.now() + MINUTE)
    const first = await scheduleFill(service, 'sched-3', at, 'client-key-3')
    const second = await scheduleFill(service, 'sched-3', at, 'client-key-3')
    expect(second.scheduleId).toBe(first.scheduleId)
    clock.advance(MINUTE)
    await settled(service, second.token)
    expect(await fills(service, 'sched-3')).toHaveLength(1)
  })

  it('never sends a cancelled command, and refuses to cancel one that was sent', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    const cancelled = await scheduleFill(service, 'sched-4', new Date(clock.now() + MINUTE))
    const cancel = await service.gateway.gql(CANCEL, { scheduleId: cancelled.scheduleId })
    expect(cancel.body.data).toMatchObject({ cancelScheduledCommand: { status: 'cancelled' } })
    const sent = await scheduleFill(service, 'sched-4b', new Date(clock.now() + MINUTE))
    // The cancel took its timer away: nothing is pending for it.
    await settled(service, (cancel.body.data!['cancelScheduledCommand'] as { token: string }).token)
    const instance = await service.readSide.workflow('scheduledCommands').instance(cancelled.scheduleId)
    expect(instance).toMatchObject({ status: 'completed', timers: [] })
    clock.advance(2 * MINUTE)
    await settled(service, sent.token)
    await settled(service, (cancel.body.data!['cancelScheduledCommand'] as { token: string }).token)

    expect(await fills(service, 'sched-4b')).toHaveLength(1)
    expect(await fills(service, 'sched-4')).toHaveLength(0)
    const late = await service.gateway.gql(CANCEL, { scheduleId: sent.scheduleId })
    expect(late.body.errors?.map((error) => error.extensions.code)).toEqual(['SCHEDULE_NOT_PENDING'])
  })

  it('never sends a command cancelled as it falls due, before the workflow has read the cancel', async () => {
    const clock = createTestClock()
    const service = await rig(clock, undefined, { holdCancels: true })
    const schedule = await scheduleFill(service, 'sched-9', new Date(clock.now() + MINUTE))
    await settled(service, schedule.token)
    const cancel = await service.gateway.gql(CANCEL, { scheduleId: schedule.scheduleId })
    expect(cancel.body.errors).toBeUndefined()
    // The timer fires while the cancel is held back from the workflow's subscription.
    clock.advance(MINUTE)
    await service.readSide.workflow('scheduledCommands').idle()
    service.releaseCancels()
    await settled(service, (cancel.body.data!['cancelScheduledCommand'] as { token: string }).token)
    expect(await fills(service, 'sched-9')).toHaveLength(0)
  })

  it('lists the pending schedules by time, a page at a time, filtered by command; one sent or cancelled leaves the list', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    await scheduleFill(service, 'list-later', new Date(clock.now() + 3 * MINUTE))
    const sooner = await scheduleFill(service, 'list-sooner', new Date(clock.now() + MINUTE))
    const sealing = await service.gateway.gql(SCHEDULE_SEAL, {
      id: 'list-seal',
      at: new Date(clock.now() + 2 * MINUTE).toISOString(),
    })
    expect(sealing.body.errors).toBeUndefined()
    const dropped = await scheduleFill(service, 'list-dropped', new Date(clock.now() + 4 * MINUTE))
    const cancel = await service.gateway.gql(CANCEL, { scheduleId: dropped.scheduleId })
    const token = (cancel.body.data!['cancelScheduledCommand'] as { token: string }).token
    type Page = {
      nodes: { aggregateId: string; command: string }[]
      pageInfo: { endCursor: string; hasNextPage: boolean }
    }
    const page = async (after?: string): Promise<Page> => {
      const reply = await service.gateway.gql(PENDING, { token, after })
      expect(reply.body.errors).toBeUndefined()
      return reply.body.data!['pendingScheduledCommandsList'] as Page
    }

    const first = await page()
    expect(first.nodes.map((node) => node.aggregateId)).toEqual(['list-sooner', 'list-seal'])
    expect(first.nodes[1]).toMatchObject({ command: 'seal' })
    expect(first.pageInfo.hasNextPage).toBe(true)
    const second = await page(first.pageInfo.endCursor)
    expect(second.nodes.map((node) => node.aggregateId)).toEqual(['list-later'])
    expect(second.pageInfo.hasNextPage).toBe(false)
    const fillsOnly = await service.gateway.gql(PENDING_FILLS, { token })
    expect(fillsOnly.body.data).toEqual({
      pendingScheduledCommandsList: {
        nodes: expect.arrayContaining([
          { aggregateId: 'list-sooner' },
          { aggregateId: 'list-later' },
        ]) as unknown,
      },
    })
    expect((fillsOnly.body.data!['pendingScheduledCommandsList'] as Page).nodes).toHaveLength(2)

    clock.advance(MINUTE)
    await settled(service, sooner.token)
    const [sent] = await fills(service, 'list-sooner')
    const fired = await service.events(`ScheduledCommand-${sooner.scheduleId}`)
    const after = await service.gateway.gql(PENDING, { token: String(fired.at(-1)!.position) })
    expect(sent).toBeDefined()
    expect(
      (after.body.data!['pendingScheduledCommandsList'] as Page).nodes.map((node) => node.aggregateId),
    ).toEqual(['list-seal', 'list-later'])
  })

  it('refuses a time out of range or not a time, and a command input that does not fit, with coded errors', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    const codeOf = async (variables: Record<string, unknown>) => {
      const reply = await service.gateway.gql(SCHEDULE_FILL, { id: 'sched-5', litres: 7, ...variables })
      return reply.body.errors?.map((error) => error.extensions.code)
    }
    const day = 24 * 60 * MINUTE
    expect(await codeOf({ at: new Date(clock.now() - 6 * MINUTE).toISOString() })).toEqual([
      'SCHEDULE_OUT_OF_RANGE',
    ])
    expect(await codeOf({ at: new Date(clock.now() + 367 * day).toISOString() })).toEqual([
      'SCHEDULE_OUT_OF_RANGE',
    ])
    expect(await codeOf({ at: 'at six' })).toEqual(['BAD_INPUT'])
    const bad = await service.gateway.gql(SCHEDULE_FILL, {
      id: 'sched-5',
      litres: 20_000,
      at: new Date(clock.now() + MINUTE).toISOString(),
    })
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_INPUT',
      issues: [expect.objectContaining({ path: ['input', 'litres'] })],
    })
    // A time a few minutes past (clock skew) is taken and sent at once.
    const skewed = await scheduleFill(service, 'sched-5', new Date(clock.now() - 2 * MINUTE))
    await settled(service, skewed.token)
    expect(await fills(service, 'sched-5')).toHaveLength(1)
  })

  it('sends a command a reactor scheduled, and one a workflow scheduled, at their times', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    const fill = (id: string, site: string) =>
      service.gateway.gql(`mutation { fill(id: "${id}", input: { site: "${site}", litres: 5 }) { token } }`)
    await fill('sched-6', 'timed')
    const watched = ((await fill('sched-7', 'watched')).body.data!['fill'] as { token: string }).token
    // The reactor's schedule has an id derived from the event it handled: wait for its stream.
    const [filled] = await service.events('Tank-sched-6')
    const sealing = nameBasedUuid(`annals-reactor/tankSealer/${filled!.id}/schedule/0`)
    const scheduled = await vi.waitFor(async () => {
      const [event] = await service.events(`ScheduledCommand-${sealing}`)
      if (!event) throw new Error('not scheduled yet')
      return String(event.position)
    })
    await service.readSide.workflow('tankWatch').reached(BigInt(watched))
    const types = async (id: string) => (await service.events(`Tank-${id}`)).map((event) => event.type)

    clock.advance(31 * MINUTE)
    await settled(service, watched)
    expect(await types('sched-7')).toEqual(['TankFilled', 'TankDrained'])
    expect(await types('sched-6')).toEqual(['TankFilled'])
    clock.advance(30 * MINUTE)
    await settled(service, scheduled)
    expect(await types('sched-6')).toEqual(['TankFilled', 'TankSealed'])
  })

  it('sends a command that fell due while every replica was down once, at once on recovery, with its lateness', async () => {
    const clock = createTestClock()
    const made = await scheduleDataDir()
    cleanups.push(() => made.remove())
    const before = await rig(clock, made.dir)
    const schedule = await scheduleFill(before, 'sched-8', new Date(clock.now() + 10 * MINUTE))
    await settled(before, schedule.token)
    await before.close()

    clock.advance(25 * MINUTE)
    const after = await rig(clock, made.dir)
    await settled(after, schedule.token)
    expect(await fills(after, 'sched-8')).toHaveLength(1)
    const fired = (await after.events(`ScheduledCommand-${schedule.scheduleId}`)).find(
      (event) => event.type === 'ScheduledCommandFired',
    )
    expect(fired?.data).toMatchObject({ latenessMs: 15 * MINUTE })
    await after.close()

    clock.advance(MINUTE)
    const again = await rig(clock, made.dir)
    await settled(again, schedule.token)
    expect(await fills(again, 'sched-8')).toHaveLength(1)
  })
})
