/* eslint-disable @typescript-eslint/no-unsafe-member-access -- GraphQL replies are untyped JSON */
// Issue 14, item 2: consistency tokens beyond the head of the log, and reads that time out.
import { afterEach, describe, expect, it } from 'vitest'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { captureLog } from './fixtures/captured-log.ts'
import { probeLiveness } from './fixtures/health-probe.ts'

const gateways: RunningGateway[] = []
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close()
})

const fill = 'mutation($id: ID!) { fill(id: $id, input: { site: "s", litres: 1 }) { token } }'

/** One query of `aliases` reads, each waiting for `token`. */
function aliasedReads(aliases: number): string {
  let query = 'query($token: String) {'
  for (let i = 0; i < aliases; i++)
    query += ` r${i}: tankLevel(tankId: "t1", consistentWith: $token) { litres }`
  return `${query} }`
}

type BatchReply = { errors?: { extensions: { code: string } }[] }[]

async function postBatch(url: string, operations: readonly object[]): Promise<BatchReply> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(operations),
  })
  return (await response.json()) as BatchReply
}

describe('a consistentWith token beyond the head of the log', () => {
  it('is refused at once with TOKEN_BEYOND_HEAD, and logs nothing loud', async () => {
    const log = captureLog()
    // A wait would outlast the test: only an immediate refusal lets it finish.
    const gateway = await startGateway({ consistencyTimeoutMs: 600_000, logger: log.logger })
    gateways.push(gateway)
    const token = (await gateway.gql(fill, { id: 't1' })).body.data?.['fill'].token as string
    const beyond = String(BigInt(token) + 1_000_000_000n)
    const batch = Array.from({ length: 10 }, () => ({
      query: aliasedReads(30),
      variables: { token: beyond },
    }))
    const replies = await Promise.all(Array.from({ length: 10 }, () => postBatch(gateway.url, batch)))
    const codes = new Set(
      replies.flat().flatMap((reply) => reply.errors?.map((e) => e.extensions.code) ?? []),
    )
    expect({
      codes: [...codes],
      errors: replies.flat().flatMap((reply) => reply.errors ?? []).length,
    }).toEqual({
      codes: ['TOKEN_BEYOND_HEAD'],
      errors: 10 * 10 * 30,
    })
    expect(log.loud()).toEqual([])
  })

  it('does not refuse the token of the last append', async () => {
    const gateway = await startGateway({ consistencyTimeoutMs: 10_000 })
    gateways.push(gateway)
    const token = (await gateway.gql(fill, { id: 't1' })).body.data?.['fill'].token as string
    const { body } = await gateway.gql(aliasedReads(1), { token })
    expect(body).toEqual({ data: { r0: { litres: 1 } } })
  })
})

describe('a flood of tokens beyond the head of the log', () => {
  it('leaves /health/live answering every probe within a kubelet liveness timeout while it runs', async () => {
    // The rate limit lets the whole flood in: what is measured is the refusal, not the limiter. The log is
    // real: the stall came from an error logged, with its stack, per refused field.
    const log = captureLog()
    const gateway = await startGateway({
      logger: log.logger,
      // A slow request on a loaded machine is logged at warn; only what the flood itself logs is judged here.
      slowRequestMs: Infinity,
      consistencyTimeoutMs: 2_000,
      limits: { rateLimit: { burst: 1_000_000, perSecond: 1_000_000 } },
    })
    gateways.push(gateway)
    const token = (await gateway.gql(fill, { id: 't1' })).body.data?.['fill'].token as string
    const beyond = String(BigInt(token) + 1_000_000_000n)
    const batch = Array.from({ length: 10 }, () => ({
      query: aliasedReads(30),
      variables: { token: beyond },
    }))
    // The attack: 180 batches of 10 queries of 30 aliased reads, six batches in flight at a time.
    const batches = 180
    const inFlight = 6
    let sent = 0
    let refused = 0
    const probe = await probeLiveness(gateway.url)
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (sent < batches) {
          sent++
          for (const reply of await postBatch(gateway.url, batch))
            for (const error of reply.errors ?? [])
              if (error.extensions.code === 'TOKEN_BEYOND_HEAD') refused++
        }
      }),
    )
    const liveness = await probe.stop()
    expect(refused).toBe(batches * 10 * 30)
    expect(log.loud()).toEqual([])
    // A kubelet's default liveness timeout is 1 s: a probe slower than that would count as a failure.
    expect(liveness, `the slowest of ${liveness.probes} probes`).toMatchObject({
      slowestMs: expect.toSatisfy((ms: number) => ms < 1_000) as unknown,
    })
    expect(liveness.probes).toBeGreaterThan(1)
  }, 60_000)
})

describe('a read that waits out its token', () => {
  it('answers CONSISTENCY_TIMEOUT and logs it once per request, at info, without a stack', async () => {
    const log = captureLog()
    const gateway = await startGateway({ consistencyTimeoutMs: 200, logger: log.logger })
    gateways.push(gateway)
    await gateway.gql(fill, { id: 't1' })
    const readSide = gateway.app.annals.readSide as ProjectionReadSide
    readSide.projection('tankLevel').pause()
    const token = (await gateway.gql(fill, { id: 't1' })).body.data?.['fill'].token as string
    const requestId = 'timeout-1'
    const { status, body } = await gateway.gql(aliasedReads(30), { token }, { 'x-request-id': requestId })
    expect({ status, codes: [...new Set(body.errors?.map((error) => error.extensions.code))] }).toEqual({
      status: 200,
      codes: ['CONSISTENCY_TIMEOUT'],
    })
    expect(body.errors).toHaveLength(30)
    const timeouts = log.lines.filter(
      (line) => line['requestId'] === requestId && line['code'] === 'CONSISTENCY_TIMEOUT',
    )
    expect(timeouts).toEqual([expect.objectContaining({ level: 30, fields: 30 })])
    expect(log.loud()).toEqual([])
  })
})
