/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- JSON printed by the CLI is untyped */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { annals } from './fixtures/annals-cli.ts'
import { faults, opsReadSide, reported, UNLUCKY_LITRES } from './fixtures/ops-app.ts'
import { opsRequest, tanksOf } from './fixtures/ops-client.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

const token = 'the-ops-token-of-the-cli-tests'

const eventually = <T>(check: () => Promise<T>) => vi.waitFor(check, { timeout: 10_000, interval: 20 })

describe('annals ops against a running service', { timeout: 90_000 }, () => {
  let gateway: RunningGateway
  const ops = (...args: string[]) => annals(['ops', ...args, '--url', gateway.url, '--token', token])
  const json = async (...args: string[]) => {
    const run = await ops(...args, '--json')
    expect(run).toMatchObject({ code: 0, stderr: '' })
    return JSON.parse(run.stdout)
  }
  const { fill, fillsOf } = tanksOf(() => gateway)
  const projection = async () =>
    (
      await opsRequest(
        gateway.url,
        '{ projection(name: "tankFills") { status position deadLetters { id key } } }',
        { token },
      )
    ).body.data!['projection']

  beforeAll(async () => {
    gateway = await startGateway({ readSide: opsReadSide(), ops: { token } })
  })
  afterAll(async () => {
    await gateway.close()
  })
  afterEach(() => {
    faults.projection = faults.reactor = faults.workflow = false
  })

  it('prints the projections as a table, and as JSON with --json', async () => {
    const position = await fill('cli-1', 2)
    await eventually(async () =>
      expect(BigInt((await projection())['position'] as string)).toBeGreaterThanOrEqual(position),
    )
    const table = await ops('projections')
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^PROJECTION\s+STATUS\s+POSITION\s+BEHIND\s+AGE\s+HELD\s+DEAD LETTERS$/m)
    // BEHIND is a count at the moment asked: the reactor's and workflow's own appends can land after the fill.
    expect(table.stdout).toMatch(/^tankFills\s+RUNNING\s+\d+\s+\d+\s+\d+\.\d s\s+0\s+0$/m)
    const data = await json('projections')
    expect(data.projections[0]).toMatchObject({ name: 'tankFills', status: 'RUNNING', heldEvents: 0 })
    // The checkpoint also moves past events it does not handle (the reactor's and workflow's own streams).
    expect(BigInt(data.projections[0].position as string)).toBeGreaterThanOrEqual(position)
  })

  it('prints the reactors, the workflows, the ring and the store', async () => {
    const reactors = (await ops('reactors')).stdout
    expect(reactors).toMatch(/^REACTOR\s+PARTITIONS HERE\s+BEHIND\s+AGE\s+DEAD LETTERS$/m)
    // BEHIND and AGE are as of the moment asked: a fill of another test may still be on its way.
    expect(reactors).toMatch(/^fillReporter\s+0\s+\d+\s+\d+\.\d s\s+0$/m)
    expect(reactors).toMatch(/^OF\s+PARTITION\s+POSITION\s+CHECKPOINT\s+BEHIND\s+AGE$/m)
    expect(reactors).toMatch(/^fillReporter\s+0\s+\d+\s+(\d+|-)\s+\d+\s+\d+\.\d s$/m)
    const workflows = (await ops('workflows')).stdout
    expect(workflows).toMatch(/^tankKeeper\s+\S+\s+\d+\s+\d+\.\d s\s+0$/m)
    expect(workflows).toMatch(/^tankKeeper\s+0\s+\d+\s+(\d+|-)\s+\d+\s+\d+\.\d s$/m)
    const ring = await ops('ring')
    expect(ring.stdout).toContain('Not sharded')
    expect(ring.stdout).toMatch(new RegExp(`^${gateway.url}\\s+ALIVE\\s+\\d+\\s+yes$`, 'm'))
    expect((await ops('store')).stdout).toMatch(/^GIVEN\s+yes\s+\d+\s+[\d.]+ ms/m)
  })

  it('pauses, resumes and rebuilds a projection', async () => {
    const paused = await ops('pause', 'tankFills')
    expect(paused).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^tankFills: PAUSED at position \d+\n$/),
    })
    expect((await projection())['status']).toBe('PAUSED')
    await fill('cli-2', 5)
    expect(await fillsOf('cli-2')).toBeUndefined()
    const resumed = await ops('resume', 'tankFills')
    expect(resumed.stdout).toMatch(/^tankFills: RUNNING/)
    await eventually(async () => expect(await fillsOf('cli-2')).toEqual([5]))
    const rebuilt = await json('rebuild', 'tankFills')
    expect(['REBUILDING', 'RUNNING']).toContain(rebuilt.rebuildProjection.status)
    await eventually(async () => expect((await projection())['status']).toBe('RUNNING'))
    expect(await fillsOf('cli-2')).toEqual([5])
  })

  it("retries a projection's dead letter (exit 1 with RETRY_FAILED while the fault lasts) and discards another", async () => {
    faults.projection = true
    await fill('cli-dl-1', UNLUCKY_LITRES)
    await fill('cli-dl-2', UNLUCKY_LITRES)
    const letters = await eventually(async () => {
      const found = (await projection())['deadLetters'] as { id: string; key: string }[]
      expect(found.map((letter) => letter.key).sort()).toEqual(['cli-dl-1', 'cli-dl-2'])
      return new Map(found.map((letter) => [letter.key, letter.id]))
    })
    const listed = await ops('projections')
    expect(listed.stdout).toMatch(/^OF\s+DEAD LETTER\s+EVENT\s+HOLDS\s+ERROR$/m)
    expect(listed.stdout).toMatch(
      new RegExp(
        `^tankFills\\s+${letters.get('cli-dl-1')}\\s+TankFilled Tank-cli-dl-1 @\\d+\\s+cli-dl-1\\s+unlucky fill$`,
        'm',
      ),
    )
    const failed = await ops('retry', 'tankFills', letters.get('cli-dl-1')!)
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('RETRY_FAILED')
    faults.projection = false
    const retried = await ops('retry', 'tankFills', letters.get('cli-dl-1')!)
    expect(retried).toMatchObject({
      code: 0,
      stdout: `retried dead letter ${letters.get('cli-dl-1')} of projection tankFills\n`,
    })
    expect(await fillsOf('cli-dl-1')).toEqual([UNLUCKY_LITRES])
    const discarded = await ops('discard', 'tankFills', letters.get('cli-dl-2')!, '--kind', 'projection')
    expect(discarded.stdout).toBe(
      `discarded dead letter ${letters.get('cli-dl-2')} of projection tankFills\n`,
    )
    expect((await projection())['deadLetters']).toEqual([])
  })

  it("retries a reactor's dead letter and discards a workflow's", async () => {
    faults.reactor = true
    faults.workflow = true
    await fill('cli-r-1', UNLUCKY_LITRES)
    // Polled over HTTP (a dead letter appears after its retries); the CLI then lists and settles them.
    await eventually(async () => {
      const reply = await opsRequest(
        gateway.url,
        '{ reactors { deadLetters { id } } workflows { deadLetters { id } } }',
        { token },
      )
      const { reactors, workflows } = reply.body.data!
      expect([reactors[0].deadLetters.length, workflows[0].deadLetters.length]).toEqual([1, 1])
    })
    const reactorLetter: string = (await json('reactors')).reactors[0].deadLetters[0].id
    const workflowLetter: string = (await json('workflows')).workflows[0].deadLetters[0].id
    faults.reactor = false
    const before = reported.length
    expect((await ops('retry', 'fillReporter', reactorLetter)).stdout).toBe(
      `retried dead letter ${reactorLetter} of reactor fillReporter\n`,
    )
    expect(reported.slice(before)).toEqual([UNLUCKY_LITRES])
    expect((await ops('discard', 'tankKeeper', workflowLetter)).stdout).toBe(
      `discarded dead letter ${workflowLetter} of workflow tankKeeper\n`,
    )
    expect((await json('workflows')).workflows[0].deadLetters).toEqual([])
  })

  it('takes the token from ANNALS_OPS_TOKEN', async () => {
    const run = await annals(['ops', 'store', '--url', gateway.url, '--json'], { ANNALS_OPS_TOKEN: token })
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).store.reachable).toBe(true)
  })

  it('exits 1 with UNAUTHENTICATED without a token, and with NOT_FOUND for an unknown name', async () => {
    const anonymous = await annals(['ops', 'projections', '--url', gateway.url])
    expect(anonymous.code).toBe(1)
    expect(anonymous.stderr).toContain('annals ops: UNAUTHENTICATED')
    const unknown = await ops('pause', 'noSuchProjection')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('annals ops: NOT_FOUND: No projection is named noSuchProjection')
    const letter = await ops('discard', 'fillReporter', 'no-such-letter')
    expect(letter.stderr).toContain('NOT_FOUND')
  })

  it('exits 2 on a wrong command line', async () => {
    const run = await annals(['ops', 'retry', 'tankFills'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('retry needs a name and a dead-letter id')
  })
})
