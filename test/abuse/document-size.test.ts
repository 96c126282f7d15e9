// Issue 14, item 1: large and numerous invalid documents must not grow the heap nor stall the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultLimits } from '../../framework/graphql/guards/gateway-limits.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { captureLog } from './fixtures/captured-log.ts'
import { startChildGateway, type ChildGateway } from './fixtures/child-gateway.ts'
import { probeLiveness } from './fixtures/health-probe.ts'

const MB = 1024 * 1024

/** `fields` selections of one field with clashing arguments: invalid (they cannot be merged), distinct per `tag`. */
function clashingDocument(tag: string, fields: number, padding = ''): string {
  let query = '{'
  for (let i = 0; i < fields; i++) query += ` tankLevel(tankId: "${tag}-${i}${padding}") { litres }`
  return `${query} }`
}

/** `fields` fields the schema does not have, each once: invalid, about 2,900 tokens, cheap to validate. */
function unknownFieldsDocument(tag: string, fields: number): string {
  let query = '{'
  for (let i = 0; i < fields; i++) query += ` f${i}(id: "${tag}") { litres }`
  return `${query} }`
}

async function post(url: string, query: string): Promise<{ status: number; code: unknown }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  })
  const body = (await response.json()) as { errors?: { extensions?: { code?: unknown } }[] }
  return { status: response.status, code: body.errors?.[0]?.extensions?.code }
}

describe('distinct invalid documents, one after another', () => {
  let gateway: ChildGateway
  beforeAll(async () => {
    gateway = await startChildGateway()
  })
  afterAll(() => gateway.close())

  it('keep the heap within 100 MB of the start, and /health/live answering within 100 ms', async () => {
    // Warm the paths the attack takes, so the baseline holds what a running server holds anyway.
    for (const tag of ['warm-a', 'warm-b']) await post(gateway.url, clashingDocument(tag, 10))
    const before = await gateway.heapUsed()
    const probe = await probeLiveness(gateway.url)
    const codes = new Set<unknown>()
    // 200 documents of ~800 KB: 16,000 fields each, as the attacker sent.
    for (let n = 0; n < 200; n++) {
      const query = clashingDocument(`big${n}`, 16_000, '-padding-padding')
      if (n === 0) expect(query.length).toBeGreaterThan(800_000)
      codes.add((await post(gateway.url, query)).code)
    }

    // 400 documents inside every size limit that fail validation: each was kept whole in an error cache.
    for (let n = 0; n < 400; n++)
      codes.add((await post(gateway.url, unknownFieldsDocument(`small${n}`, 320))).code)
    const liveness = await probe.stop()
    const after = await gateway.heapUsed()
    expect({ codes: [...codes].sort(), grownMB: Math.max(0, Math.round((after - before) / MB)) }).toEqual({
      codes: ['BAD_INPUT', 'LIMIT_EXCEEDED'],
      grownMB: expect.toSatisfy((grown: number) => grown <= 100) as unknown,
    })
    expect(liveness.probes).toBeGreaterThan(100)
    expect(liveness.p99Ms).toBeLessThanOrEqual(100)
  }, 120_000)
})

describe('the size limits, checked before a document is parsed', () => {
  const log = captureLog()
  let gateway: RunningGateway
  let unbounded: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({ logger: log.logger })
    // Only the token count left: the length limit would refuse these documents first.
    unbounded = await startGateway({ limits: { maxQueryLength: Infinity }, logger: log.logger })
  })
  afterAll(async () => {
    await gateway.close()
    await unbounded.close()
  })

  it('refuses a document longer than maxQueryLength with LIMIT_EXCEEDED', async () => {
    const query = clashingDocument('long', 1_000)
    expect(query.length).toBeGreaterThan(defaultLimits.maxQueryLength)
    const { status, body } = await gateway.gql(query)
    expect({ status, error: body.errors?.[0]?.extensions }).toEqual({
      status: 400,
      error: {
        code: 'LIMIT_EXCEEDED',
        limit: 'length',
        value: query.length,
        max: defaultLimits.maxQueryLength,
      },
    })
    expect(log.loud()).toEqual([])
  })

  it('refuses a document of more tokens than maxTokens with LIMIT_EXCEEDED, comments not counted', async () => {
    const many = `{ ${'tankLevel(tankId: "x") { litres } '.repeat(400)}}`
    const { status, body } = await unbounded.gql(many)
    expect({ status, error: body.errors?.[0]?.extensions }).toEqual({
      status: 400,
      error: { code: 'LIMIT_EXCEEDED', limit: 'tokens', max: defaultLimits.maxTokens },
    })
    const commented = `{ tankLevel(tankId: "x") { litres } ${'# a comment is no token\n'.repeat(4_000)}}`
    expect((await unbounded.gql(commented)).body.errors).toBeUndefined()
    expect(log.loud()).toEqual([])
  })
})
