import { createTestClock } from 'annals/testing/read-side'
import { afterEach, describe, expect, it } from 'vitest'
import { scheduleDataDir, startScheduleRig, type ScheduleRig } from './fixtures/tank-schedules.ts'

const MINUTE = 60_000
const SCHEDULES = `query($id: ID!) {
  scheduledCommandsWorkflow {
    pendingTimers timersFired
    instance(id: $id) { workflowId status state { target { aggregate command aggregateId } refused } timers { name due } }
  }
}`

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function rig(
  clock = createTestClock(),
  options?: Parameters<typeof startScheduleRig>[2],
): Promise<ScheduleRig> {
  const dir = await scheduleDataDir()
  cleanups.push(() => dir.remove())
  const service = await startScheduleRig(clock, dir.dir, options)
  cleanups.push(() => service.close())
  return service
}

async function schedule(service: ScheduleRig, id: string, at: Date) {
  const reply = await service.gateway.gql(
    `mutation($id: ID!, $at: DateTime!) { scheduleFill(id: $id, input: { site: "n", litres: 2 }, at: $at) { scheduleId token } }`,
    { id, at: at.toISOString() },
  )
  return reply.body.data!['scheduleFill'] as { scheduleId: string; token: string }
}

/** One sample of /metrics, scraped over HTTP: the value of the line with this name and these labels. */
async function sample(service: ScheduleRig, name: string, labels: Record<string, string>) {
  const text = await (await fetch(`${service.gateway.url}/metrics`)).text()
  const line = text
    .split('\n')
    .find(
      (candidate) =>
        candidate.startsWith(`${name}{`) &&
        Object.entries(labels).every(([label, value]) => candidate.includes(`${label}="${value}"`)),
    )
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('workflow operations, over HTTP', () => {
  it('shows a schedule, its pending timer and the timers fired through the workflow query', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    const at = new Date(clock.now() + 10 * MINUTE)
    const soon = await schedule(service, 'ops-1', new Date(clock.now() + MINUTE))
    const later = await schedule(service, 'ops-2', at)
    const workflow = service.readSide.workflow('scheduledCommands')
    await workflow.reached(BigInt(later.token))

    const before = await service.gateway.gql(SCHEDULES, { id: later.scheduleId })
    expect(before.body.data).toEqual({
      scheduledCommandsWorkflow: {
        pendingTimers: 2,
        timersFired: 0,
        instance: {
          workflowId: later.scheduleId,
          status: 'active',
          state: { target: { aggregate: 'Tank', command: 'fill', aggregateId: 'ops-2' }, refused: null },
          timers: [{ name: 'due', due: at.toISOString() }],
        },
      },
    })

    clock.advance(3 * MINUTE)
    await workflow.idle()
    const after = await service.gateway.gql(SCHEDULES, { id: soon.scheduleId })
    expect(after.body.data).toMatchObject({
      scheduledCommandsWorkflow: {
        pendingTimers: 1,
        timersFired: 1,
        instance: { status: 'completed', timers: [] },
      },
    })
    const unknown = await service.gateway.gql(SCHEDULES, { id: 'no-such-schedule' })
    expect(unknown.body.data).toMatchObject({ scheduledCommandsWorkflow: { instance: null } })
  })

  it('lists a workflow reaction that gave up as a dead letter in its query', async () => {
    const service = await rig()
    const fill = await service.gateway.gql(
      `mutation { fill(id: "ops-3", input: { site: "watched", litres: 13 }) { token } }`,
    )
    const token = (fill.body.data!['fill'] as { token: string }).token
    await service.readSide.workflow('tankWatch').reached(BigInt(token))
    const reply = await service.gateway.gql(
      `{ tankWatchWorkflow { deadLetters { workflowId trigger error } instance(id: "ops-3") { status } } }`,
    )
    expect(reply.body.data).toEqual({
      tankWatchWorkflow: {
        deadLetters: [
          {
            workflowId: 'ops-3',
            trigger: `event TankFilled at ${token}`,
            error: 'Thirteen litres is unlucky',
          },
        ],
        instance: { status: 'held' },
      },
    })
  })

  it('exports timers pending, timers fired and their lateness as a histogram on /metrics', async () => {
    const clock = createTestClock()
    const service = await rig(clock)
    await schedule(service, 'ops-4', new Date(clock.now() + MINUTE))
    const last = await schedule(service, 'ops-5', new Date(clock.now() + 60 * MINUTE))
    const workflow = service.readSide.workflow('scheduledCommands')
    await workflow.reached(BigInt(last.token))
    const labels = { workflow: 'scheduledCommands' }
    expect(await sample(service, 'annals_workflow_timers_pending', labels)).toBe(2)

    // Fired two minutes late: within the 5-minute bucket, not the 1-minute one.
    clock.advance(3 * MINUTE)
    await workflow.idle()
    expect(await sample(service, 'annals_workflow_timers_pending', labels)).toBe(1)
    expect(await sample(service, 'annals_workflow_timers_fired_total', labels)).toBe(1)
    const lateness = 'annals_workflow_timer_lateness_seconds'
    expect(await sample(service, `${lateness}_count`, labels)).toBe(1)
    expect(await sample(service, `${lateness}_sum`, labels)).toBe(120)
    expect(await sample(service, `${lateness}_bucket`, { ...labels, le: '60' })).toBe(0)
    expect(await sample(service, `${lateness}_bucket`, { ...labels, le: '300' })).toBe(1)
  })

  it('authorizes scheduling as the command itself, and the workflow query by its name', async () => {
    const clock = createTestClock()
    const no = () => false
    const service = await rig(clock, {
      authorize: { commands: { fill: no }, queries: { scheduledCommandsWorkflow: no } },
    })
    const scheduling = await service.gateway.gql(
      `mutation($at: DateTime!) { scheduleFill(id: "ops-6", input: { site: "n", litres: 2 }, at: $at) { scheduleId } }`,
      { at: new Date(clock.now() + MINUTE).toISOString() },
    )
    expect(scheduling.body.errors?.map((error) => error.extensions.code)).toEqual(['UNAUTHENTICATED'])
    const query = await service.gateway.gql(`{ scheduledCommandsWorkflow { pendingTimers } }`)
    expect(query.body.errors?.map((error) => error.extensions.code)).toEqual(['UNAUTHENTICATED'])
    const other = await service.gateway.gql(`{ tankWatchWorkflow { pendingTimers } }`)
    expect(other.body.data).toEqual({ tankWatchWorkflow: { pendingTimers: 0 } })
  })
})
