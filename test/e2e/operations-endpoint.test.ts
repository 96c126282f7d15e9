/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- GraphQL replies are untyped JSON */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  faults,
  HELD_LITRES,
  holds,
  opsReadSide,
  reported,
  scale,
  UNLUCKY_LITRES,
} from './fixtures/ops-app.ts'
import { opsRequest, PROJECTION_FIELDS, tanksOf } from './fixtures/ops-client.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'
import { captureLog } from '../abuse/fixtures/captured-log.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import { createServer, type ServerOptions } from '../../framework/server/create-server.ts'
import { Tank } from './fixtures/tank.ts'

const token = 'an-ops-token-for-the-tests'

/** Polls until `check` passes: a dead letter appears after its retries, which no position announces. */
const eventually = <T>(check: () => Promise<T>) => vi.waitFor(check, { timeout: 10_000, interval: 20 })

describe('the operations endpoint', () => {
  let gateway: RunningGateway
  const ops = (query: string, variables?: Record<string, unknown>) =>
    opsRequest(gateway.url, query, { token, ...(variables ? { variables } : {}) })
  const { fill, fillsOf } = tanksOf(() => gateway)
  const projection = async () => {
    const reply = await ops(`{ projection(name: "tankFills") { ${PROJECTION_FIELDS} } }`)
    expect(reply.body.errors).toBeUndefined()
    return reply.body.data!['projection']
  }
  const deadLettersOf = async (field: 'reactors' | 'workflows') => {
    const reply = await ops(
      `{ ${field} { name kind partitions deadLetters { id partition workflowId trigger error event { type stream position } } } }`,
    )
    expect(reply.body.errors).toBeUndefined()
    return reply.body.data![field][0]
  }

  beforeAll(async () => {
    gateway = await startGateway({ readSide: opsReadSide(), ops: { token } })
  })
  afterAll(async () => {
    await gateway.close()
  })
  afterEach(() => {
    faults.projection = faults.reactor = faults.workflow = false
    scale.factor = 1
  })

  describe('authentication', () => {
    const query = '{ projections { name } }'

    it('refuses a request without a token with 401 UNAUTHENTICATED and a Bearer challenge', async () => {
      const response = await fetch(`${gateway.url}/ops/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      })
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="annals-ops"')
      const body = (await response.json()) as { data?: unknown; errors: { extensions: { code: string } }[] }
      expect(body.data).toBeUndefined()
      expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED')
    })

    it('refuses a wrong token, and a mutation without one runs nothing', async () => {
      expect((await opsRequest(gateway.url, query, { token: 'not-the-ops-token-at-all' })).status).toBe(401)
      const paused = await opsRequest(
        gateway.url,
        'mutation { pauseProjection(name: "tankFills") { status } }',
      )
      expect(paused.status).toBe(401)
      expect((await projection())['status']).toBe('RUNNING')
    })

    it('answers a request that carries the token', async () => {
      const reply = await ops(query)
      expect(reply.status).toBe(200)
      expect(reply.body.data).toEqual({ projections: [{ name: 'tankFills' }] })
    })
  })

  describe('queries', () => {
    it('lists each projection with its status, checkpoint and lag', async () => {
      const position = await fill('q1', 5)
      await eventually(async () => {
        const now = await projection()
        expect(BigInt(now['position'] as string)).toBeGreaterThanOrEqual(position)
        expect(now).toMatchObject({
          name: 'tankFills',
          status: 'RUNNING',
          caughtUp: true,
          eventsBehind: 0,
          secondsBehind: 0,
          heldEvents: 0,
          deadLetters: [],
        })
      })
    })

    it('lists the reactors and workflows with the partitions this replica runs', async () => {
      expect(await deadLettersOf('reactors')).toEqual({
        name: 'fillReporter',
        kind: 'REACTOR',
        partitions: ['0'],
        deadLetters: [],
      })
      expect(await deadLettersOf('workflows')).toMatchObject({ name: 'tankKeeper', kind: 'WORKFLOW' })
    })

    it('shows the ring of a single replica with the aggregates it hosts', async () => {
      await fill('ring-1', 1)
      const reply = await ops('{ ring { sharded self members { url state self hostedAggregates } } }')
      const ring = reply.body.data!['ring']
      expect(ring).toMatchObject({ sharded: false, members: [{ state: 'ALIVE', self: true }] })
      expect(ring.members[0].hostedAggregates).toBeGreaterThanOrEqual(1)
    })

    it("reports the store's health: an in-process devstore that answers with its head", async () => {
      const head = await gateway.store.headPosition()
      const reply = await ops('{ store { kind reachable headPosition latencyMs error } }')
      expect(reply.body.data!['store']).toMatchObject({ kind: 'GIVEN', reachable: true, error: null })
      expect(BigInt(reply.body.data!['store'].headPosition as string)).toBeGreaterThanOrEqual(head)
    })
  })

  describe("a projection's dead letter", () => {
    async function deadLetterOn(id: string) {
      faults.projection = true
      const unlucky = await fill(id, UNLUCKY_LITRES)
      await fill(id, 20)
      const letter = await eventually(async () => {
        const found = ((await projection())['deadLetters'] as { key: string }[]).find((l) => l.key === id)
        expect(found).toBeDefined()
        return found as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
      })
      return { letter, unlucky }
    }

    it('is listed with its event and error, holding back the later events of its key', async () => {
      const { letter, unlucky } = await deadLetterOn('dl-1')
      expect(letter).toMatchObject({
        key: 'dl-1',
        attempts: expect.any(Number),
        error: 'unlucky fill',
        event: { type: 'TankFilled', stream: 'Tank-dl-1', position: String(unlucky) },
      })
      expect((await projection())['heldEvents']).toBeGreaterThanOrEqual(2)
      expect(await fillsOf('dl-1')).toBeUndefined()
    })

    it('fails a retry with RETRY_FAILED while the fault lasts, then folds its events once it is removed', async () => {
      const { letter } = await deadLetterOn('dl-2')
      const retry = `mutation { retryDeadLetter(name: "tankFills", id: "${letter['id']}") { kind name id outcome } }`
      const failed = await ops(retry)
      expect(failed.body.errors?.[0]?.extensions.code).toBe('RETRY_FAILED')
      faults.projection = false
      const settled = await ops(retry)
      expect(settled.body).toEqual({
        data: {
          retryDeadLetter: { kind: 'PROJECTION', name: 'tankFills', id: letter['id'], outcome: 'RETRIED' },
        },
      })
      expect(await fillsOf('dl-2')).toEqual([UNLUCKY_LITRES, 20])
      const letters = (await projection())['deadLetters'] as { key: string }[]
      expect(letters.filter((l) => l.key === 'dl-2')).toEqual([])
    })

    it('is dropped when discarded, and the events held behind it are folded', async () => {
      const { letter } = await deadLetterOn('dl-3')
      const reply = await ops(
        `mutation { discardDeadLetter(name: "tankFills", id: "${letter['id']}") { outcome } }`,
      )
      expect(reply.body.data).toEqual({ discardDeadLetter: { outcome: 'DISCARDED' } })
      expect(await fillsOf('dl-3')).toEqual([20])
    })
  })

  describe("a reactor's and a workflow's dead letters", () => {
    it('lists a reactor dead letter, retries it once the fault is removed, and discards another', async () => {
      faults.reactor = true
      const first = await fill('r-1', UNLUCKY_LITRES)
      await fill('r-2', UNLUCKY_LITRES)
      const reactor = await eventually(async () => {
        const found = await deadLettersOf('reactors')
        expect(found.deadLetters).toHaveLength(2)
        return found
      })
      expect(reactor.deadLetters[0]).toMatchObject({
        partition: '0',
        error: 'the reporter refused',
        event: { type: 'TankFilled', stream: 'Tank-r-1', position: String(first) },
      })
      const [retried, discarded] = reactor.deadLetters as { id: string }[]
      const retry = `mutation { retryDeadLetter(name: "fillReporter", id: "${retried!.id}", kind: REACTOR) { outcome } }`
      expect((await ops(retry)).body.errors?.[0]?.extensions.code).toBe('RETRY_FAILED')
      faults.reactor = false
      const before = reported.length
      expect((await ops(retry)).body.data).toEqual({ retryDeadLetter: { outcome: 'RETRIED' } })
      expect(reported.slice(before)).toEqual([UNLUCKY_LITRES])
      const discard = `mutation { discardDeadLetter(name: "fillReporter", id: "${discarded!.id}") { outcome } }`
      expect((await ops(discard)).body.data).toEqual({ discardDeadLetter: { outcome: 'DISCARDED' } })
      expect((await deadLettersOf('reactors')).deadLetters).toEqual([])
      expect(reported.slice(before)).toEqual([UNLUCKY_LITRES])
    })

    it('lists a workflow dead letter with its instance, retries it once the fault is removed, and discards another', async () => {
      faults.workflow = true
      const first = await fill('w-1', UNLUCKY_LITRES)
      await fill('w-2', UNLUCKY_LITRES)
      const workflow = await eventually(async () => {
        const found = await deadLettersOf('workflows')
        expect(found.deadLetters).toHaveLength(2)
        return found
      })
      const byInstance = new Map(
        (workflow.deadLetters as { workflowId: string; id: string }[]).map((l) => [l.workflowId, l]),
      )
      expect(byInstance.get('w-1')).toMatchObject({
        error: 'the keeper refused',
        trigger: `event TankFilled at ${first}`,
        event: { type: 'TankFilled', stream: 'Tank-w-1', position: String(first) },
      })
      faults.workflow = false
      const retry = `mutation { retryDeadLetter(name: "tankKeeper", id: "${byInstance.get('w-1')!.id}") { outcome } }`
      expect((await ops(retry)).body.data).toEqual({ retryDeadLetter: { outcome: 'RETRIED' } })
      const discard = `mutation { discardDeadLetter(name: "tankKeeper", id: "${byInstance.get('w-2')!.id}") { outcome } }`
      expect((await ops(discard)).body.data).toEqual({ discardDeadLetter: { outcome: 'DISCARDED' } })
      expect((await deadLettersOf('workflows')).deadLetters).toEqual([])
    })
  })

  describe("a reactor's and a workflow's lag", () => {
    const partitionsOf = async (field: 'reactors' | 'workflows') => {
      const reply = await ops(
        `{ ${field} { eventsBehind secondsBehind partitionStatus { partition position checkpoint eventsBehind secondsBehind } } }`,
      )
      expect(reply.body.errors).toBeUndefined()
      return reply.body.data![field][0] as {
        eventsBehind: number
        secondsBehind: number
        partitionStatus: {
          partition: string
          position: string
          checkpoint: string | null
          eventsBehind: number
          secondsBehind: number
        }[]
      }
    }
    const lagMetrics = async (kind: 'reactor' | 'workflow', partition: string) => {
      const text = await (await fetch(`${gateway.url}/metrics`)).text()
      const read = (metric: string) => {
        const line = text
          .split('\n')
          .find((l) => l.startsWith(`${metric}{`) && l.includes(`partition="${partition}"`))
        return line === undefined ? undefined : Number(line.split(' ').at(-1))
      }
      return { events: read(`annals_${kind}_lag_events`), seconds: read(`annals_${kind}_lag_seconds`) }
    }

    it.each([
      ['reactor', 'reactors'],
      ['workflow', 'workflows'],
    ] as const)(
      'shows a %s partition behind, by the held event and the one after it, while its handler is held, and level once it catches up',
      async (kind, field) => {
        let release = () => {}
        holds[kind] = new Promise<void>((resolve) => (release = resolve))
        try {
          const held = await fill(`lag-${kind}`, HELD_LITRES)
          const later = await fill(`lag-${kind}`, 1)
          const behind = await eventually(async () => {
            const status = (await partitionsOf(field)).partitionStatus.find((p) => p.eventsBehind > 0)
            expect(status).toBeDefined()
            expect(BigInt(status!.position)).toBeLessThan(held)
            expect(status!.eventsBehind).toBe(2)
            expect(status!.secondsBehind).toBeGreaterThan(0)
            return status!
          })
          expect(BigInt(behind.checkpoint ?? '0')).toBeLessThan(held)
          const processor = await partitionsOf(field)
          expect(processor.eventsBehind).toBe(2)
          expect(processor.secondsBehind).toBeGreaterThan(0)
          const metrics = await lagMetrics(kind, behind.partition)
          expect(metrics.events).toBe(2)
          expect(metrics.seconds).toBeGreaterThan(0)
          release()
          await eventually(async () => {
            const level = await partitionsOf(field)
            const status = level.partitionStatus.find((p) => p.partition === behind.partition)!
            expect(BigInt(status.position)).toBeGreaterThanOrEqual(later)
            expect(status).toMatchObject({ eventsBehind: 0, secondsBehind: 0 })
            expect(level).toMatchObject({ eventsBehind: 0, secondsBehind: 0 })
            expect(await lagMetrics(kind, behind.partition)).toEqual({ events: 0, seconds: 0 })
          })
        } finally {
          release()
          delete holds[kind]
        }
      },
    )
  })

  describe('pause, resume and rebuild', () => {
    it('stops the checkpoint while paused and catches up on resume', async () => {
      const before = await fill('p-1', 1)
      await eventually(async () =>
        expect(BigInt((await projection())['position'] as string)).toBeGreaterThanOrEqual(before),
      )
      const paused = await ops('mutation { pauseProjection(name: "tankFills") { status } }')
      expect(paused.body.data).toEqual({ pauseProjection: { status: 'PAUSED' } })
      // The reactor reads the same log: once it has a fill, the log has delivered it to this replica.
      const delivered = async (litres: number) => {
        const seen = reported.length
        const position = await fill('p-1', litres)
        await eventually(() => Promise.resolve(expect(reported.slice(seen)).toContain(litres)))
        return position
      }
      const first = await delivered(2)
      const checkpoint = (await projection())['position'] as string
      expect(BigInt(checkpoint)).toBeLessThan(first)
      const second = await delivered(4)
      expect(await projection()).toMatchObject({ status: 'PAUSED', position: checkpoint })
      expect((await projection())['eventsBehind']).toBeGreaterThanOrEqual(1)
      expect(await fillsOf('p-1')).toEqual([1])
      const resumed = await ops('mutation { resumeProjection(name: "tankFills") { status } }')
      expect(resumed.body.data).toEqual({ resumeProjection: { status: 'RUNNING' } })
      await eventually(async () =>
        expect(BigInt((await projection())['position'] as string)).toBeGreaterThanOrEqual(second),
      )
      expect(await fillsOf('p-1')).toEqual([1, 2, 4])
    })

    it('rebuilds a projection from the start of the log, folding every event again', async () => {
      await fill('rb-1', 3)
      await eventually(async () => expect(await fillsOf('rb-1')).toEqual([3]))
      scale.factor = 10
      const reply = await ops('mutation { rebuildProjection(name: "tankFills") { name status } }')
      expect(reply.body.errors).toBeUndefined()
      await eventually(async () => expect(await fillsOf('rb-1')).toEqual([30]))
      await eventually(async () => expect((await projection())['status']).toBe('RUNNING'))
    })
  })

  describe('bad input', () => {
    it('answers NOT_FOUND for an unknown projection, handler or dead letter', async () => {
      const codes = await Promise.all(
        [
          '{ projection(name: "nope") { name } }',
          'mutation { pauseProjection(name: "nope") { status } }',
          'mutation { rebuildProjection(name: "nope") { status } }',
          'mutation { retryDeadLetter(name: "nope", id: "x") { outcome } }',
          'mutation { retryDeadLetter(name: "tankFills", id: "no-such-letter") { outcome } }',
          'mutation { discardDeadLetter(name: "tankFills", id: "x", kind: REACTOR) { outcome } }',
        ].map(async (query) => (await ops(query)).body.errors?.[0]?.extensions.code),
      )
      expect(codes).toEqual(Array(6).fill('NOT_FOUND'))
    })

    it('answers BAD_INPUT for an empty name and a document that does not fit the schema, with status 400 for the latter', async () => {
      const empty = await ops('mutation { resumeProjection(name: "") { status } }')
      expect(empty.body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
      const unknownField = await ops('{ projections { password } }')
      expect(unknownField.status).toBe(400)
      expect(unknownField.body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
      const wrongVariable = await opsRequest(
        gateway.url,
        'mutation ($name: String!) { pauseProjection(name: $name) { status } }',
        { token, variables: { name: 5 } },
      )
      expect(wrongVariable.status).toBe(400)
      expect(wrongVariable.body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
      const notGraphQL = await ops('this is not graphql')
      expect(notGraphQL.status).toBe(400)
      expect(notGraphQL.body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
    })
  })
})

describe('the operations endpoint, out of the ordinary', () => {
  it('answers a body that is not a GraphQL request with 400 BAD_INPUT, and one over 64 KiB with LIMIT_EXCEEDED', async () => {
    const gateway = await startGateway({ readSide: opsReadSide() })
    try {
      const post = (body: string, type = 'application/json') =>
        fetch(`${gateway.url}/ops/graphql`, { method: 'POST', headers: { 'content-type': type }, body })
      for (const response of await Promise.all([
        post('{}'),
        post(JSON.stringify({ query: '{ store { reachable } }', variables: [1] })),
        post('query={store{reachable}}', 'text/plain'),
        post('{"query": ', 'application/json'),
        post('query={store{reachable}}', 'application/x-www-form-urlencoded'),
      ])) {
        expect(response.status).toBe(400)
        const body = (await response.json()) as { errors: { extensions: { code: string } }[] }
        expect(body.errors[0]!.extensions.code).toBe('BAD_INPUT')
      }
      const large = await post(JSON.stringify({ query: `{ store { reachable } }${' '.repeat(70_000)}` }))
      expect(large.status).toBe(400)
      expect(
        ((await large.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
      ).toBe('LIMIT_EXCEEDED')
    } finally {
      await gateway.close()
    }
  })

  it("logs each operator's action at info with its request id", async () => {
    const log = captureLog()
    const gateway = await startGateway({ readSide: opsReadSide(), ops: { token }, logger: log.logger })
    try {
      await opsRequest(gateway.url, 'mutation { pauseProjection(name: "tankFills") { status } }', { token })
      const line = log.lines.find((entry) => entry.msg === 'ops: projection paused')
      expect(line).toMatchObject({ level: 30, projection: 'tankFills', reqId: expect.any(String) })
      expect(log.loud()).toEqual([])
    } finally {
      await gateway.close()
    }
  })

  it('refuses to start with an ops token shorter than 16 characters', async () => {
    // Refused before anything starts: the store passed in is never used.
    const start = (options: Partial<ServerOptions>) =>
      createServer({ aggregates: [Tank], store: createInMemoryEventStore(), logger: false, ...options })
    await expect(start({ ops: { token: 'short' }, env: { NODE_ENV: 'test' } })).rejects.toMatchObject({
      code: 'BAD_CONFIG',
    })
    await expect(start({ env: { NODE_ENV: 'test', ANNALS_OPS_TOKEN: 'short' } })).rejects.toMatchObject({
      code: 'BAD_CONFIG',
    })
  })
})

describe('the operations endpoint in production', () => {
  const production = { NODE_ENV: 'production', ANNALS_AUTH: 'none', ANNALS_METRICS_PORT: '0' }

  it('is absent without a token or a cluster secret', async () => {
    const gateway = await startGateway({ readSide: opsReadSide(), env: production })
    try {
      expect((await opsRequest(gateway.url, '{ projections { name } }')).status).toBe(404)
    } finally {
      await gateway.close()
    }
  })

  it('is served, and requires the token, once ANNALS_OPS_TOKEN is set', async () => {
    const gateway = await startGateway({
      readSide: opsReadSide(),
      env: { ...production, ANNALS_OPS_TOKEN: token },
    })
    try {
      expect((await opsRequest(gateway.url, '{ projections { name } }')).status).toBe(401)
      const reply = await opsRequest(gateway.url, '{ projections { name } }', { token })
      expect(reply.body.data).toEqual({ projections: [{ name: 'tankFills' }] })
    } finally {
      await gateway.close()
    }
  })
})
