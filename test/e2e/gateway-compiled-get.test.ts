import { Writable } from 'node:stream'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  fill,
  firstError,
  startPair,
  warm,
  type GetRequest,
  type Pair,
  type Reply,
} from './fixtures/compiled-get-pair.ts'

// Each test sends the same GET to a gateway that answers remembered documents from their compiled query
// and to one that sends every GET through mercurius, over the same store, and expects the same answer.

const page = `query Page($first: Int, $after: String) { tankLevelList(first: $first, after: $after) {
  nodes { tankId ...levels status __typename } pageInfo { endCursor hasNextPage } position } }
  fragment levels on TankLevel { site amount: litres }`
const costly = 'query Costly($n: Int) { tankLevelList(first: $n) { nodes { tankId litres } } }'
const one = 'query One($id: ID!) { tankLevel(tankId: $id) { tankId site litres } }'

/** The reply without the milliseconds a rate-limited client should wait, which move with the clock. */
function withoutWait(reply: Reply): Reply {
  return {
    ...reply,
    body: reply.body.replace(/\d+ ms/, 'N ms').replace(/"retryAfterMs":\d+/, '"retryAfterMs":N'),
  }
}

describe('GET queries answered from a compiled document', () => {
  let pair: Pair
  beforeAll(async () => {
    pair = await startPair({ limits: { maxPageSize: 20, rateLimit: false } })
    const awkward = [
      'plain',
      'quote " and \\ backslash',
      'emoji 😀',
      'control \u0001\n\t',
      'lone \ud800',
      '</script>',
    ]
    await fill(pair, [...awkward, ...awkward.map((site) => `${site} again`)])
    await warm(pair, page, { variables: { first: 5 } })
    await warm(pair, costly, { variables: { n: 2 } })
  })
  afterAll(() => pair.close())

  it('answers a repeated page with the status, content type and bytes of the normal path', async () => {
    const before = pair.compiled()
    for (const variables of [{ first: 5 }, { first: 12 }, { first: 500 }, {}, { first: 3, after: null }]) {
      const { fast, normal } = await pair.both(page, { variables })
      expect(fast).toEqual(normal)
      expect(fast.status).toBe(200)
    }
    expect(pair.compiled() - before).toBe(5)
  })

  it('answers a page after a cursor as the normal path does', async () => {
    const first = JSON.parse((await pair.both(page, { variables: { first: 4 } })).normal.body) as {
      data: { tankLevelList: { pageInfo: { endCursor: string } } }
    }
    const after = first.data.tankLevelList.pageInfo.endCursor
    const { fast, normal } = await pair.both(page, { variables: { first: 4, after } })
    expect(fast).toEqual(normal)
  })

  it('formats execution errors with their code and path as the normal path does', async () => {
    const before = pair.compiled()
    const { fast, normal } = await pair.both(page, { variables: { first: -1 } })
    expect(fast).toEqual(normal)
    expect(JSON.parse(fast.body)).toMatchObject({
      data: null,
      errors: [{ extensions: { code: 'BAD_INPUT' } }],
    })
    expect(pair.compiled() - before).toBe(1)
  })

  it('leaves variables that do not coerce or parse to mercurius, which answers as before', async () => {
    const before = pair.compiled()
    const requests: GetRequest[] = [
      { variables: { first: 'x' } },
      { variables: { first: 1.5 } },
      { variables: { first: 2, unknown: 1 } },
      { variables: [1] },
      { variables: null },
      { rawVariables: '{"first":' },
      { rawVariables: '{"__proto__":{"first":1}}' },
      { rawVariables: '' },
    ]
    for (const request of requests) {
      const { fast, normal } = await pair.both(page, request)
      expect({ request, ...fast }).toEqual({ request, ...normal })
    }
    expect(pair.compiled() - before).toBe(1) // only the unknown variable, which both paths ignore
  })

  it('refuses a remembered document without the CSRF header', async () => {
    const { fast, normal } = await pair.both(costly, { variables: { n: 3 }, preflight: false })
    expect(fast).toEqual(normal)
    expect(fast.status).toBe(400)
  })

  it('answers each operationName as the normal path does', async () => {
    const two = `${one} query Other { tankLevelList(first: 1) { nodes { site } } }`
    await warm(pair, two, { operationName: 'One', variables: { id: 't0' } })
    for (const operationName of ['One', 'Other', 'Missing']) {
      const headers = { 'x-request-id': `operation-${operationName}` }
      const { fast, normal } = await pair.both(two, { operationName, variables: { id: 't0' }, headers })
      expect({ operationName, ...fast }).toEqual({ operationName, ...normal })
    }
  })

  it('does not take a named request for an unnamed one whose text begins with that name', async () => {
    const field = '{ tankLevel(tankId: "t1") { litres } }'
    await warm(pair, `query\n${field}`)
    const headers = { 'x-request-id': 'named-query' }
    const { fast, normal } = await pair.both(field, { operationName: 'query', headers })
    expect(fast).toEqual(normal)
  })

  it('refuses a mutation sent with GET, every time', async () => {
    const mutation = 'mutation { seal(id: "g1") { revision } }'
    for (const _ of [1, 2, 3]) {
      const { fast, normal } = await pair.both(mutation)
      expect(fast).toEqual(normal)
      expect(fast.status).toBe(405)
    }
  })
})

describe('guards on compiled GETs', () => {
  it('costs pagination from each request variables, so the same document passes then fails', async () => {
    const pair = await startPair({ limits: { maxCost: 60, rateLimit: false } })
    try {
      await warm(pair, costly, { variables: { n: 2 } })
      const passing = await pair.both(costly, { variables: { n: 5 } })
      expect(passing.fast).toEqual(passing.normal)
      const before = pair.compiled()
      const failing = await pair.both(costly, { variables: { n: 50 } })
      expect(failing.fast).toEqual(failing.normal)
      expect(firstError(failing.fast.body)?.extensions).toMatchObject({
        code: 'LIMIT_EXCEEDED',
        limit: 'cost',
      })
      expect(pair.compiled()).toBe(before)
    } finally {
      await pair.close()
    }
  })

  it('authenticates and authorizes each request', async () => {
    const pair = await startPair({
      limits: { rateLimit: false },
      authenticate: (request) => {
        const user = request.headers['x-user']
        if (user === 'bad') return Promise.reject(new Error('never reached'))
        return Promise.resolve(typeof user === 'string' ? { id: user, roles: user.split('-') } : undefined)
      },
      authorize: {
        commands: { fill: () => true },
        queries: { tankLevel: (principal) => principal?.roles.includes('reader') ?? false },
      },
    })
    try {
      await fill(pair, ['a', 'b'])
      const reader = { 'x-user': 'ann-reader' }
      await warm(pair, one, { variables: { id: 't0' }, headers: reader })
      const before = pair.compiled()
      for (const headers of [reader, {}, { 'x-user': 'bob-writer' }, reader]) {
        const { fast, normal } = await pair.both(one, { variables: { id: 't1' }, headers })
        expect({ headers, ...fast }).toEqual({ headers, ...normal })
      }
      expect(pair.compiled() - before).toBe(4)
      const anonymous = await pair.both(one, { variables: { id: 't1' } })
      expect(firstError(anonymous.fast.body)?.extensions.code).toBe('UNAUTHENTICATED')
    } finally {
      await pair.close()
    }
  })

  it('takes a rate-limit token for each request and refuses past the burst', async () => {
    const pair = await startPair({ limits: { rateLimit: { burst: 4, perSecond: 0.001 } } })
    try {
      await warm(pair, one, { variables: { id: 'x' } })
      const answers: number[] = []
      for (const _ of [1, 2, 3]) {
        const { fast, normal } = await pair.both(one, { variables: { id: 'x' } })
        expect(withoutWait(fast)).toEqual(withoutWait(normal))
        answers.push(fast.status)
      }
      expect(answers).toEqual([200, 200, 429])
    } finally {
      await pair.close()
    }
  })

  it('refuses introspection in production on every GET', async () => {
    const pair = await startPair({
      env: { NODE_ENV: 'production' },
      auth: 'none',
      metrics: 'main',
      limits: { rateLimit: false },
    })
    try {
      for (const _ of [1, 2, 3]) {
        const { fast, normal } = await pair.both('{ __schema { queryType { name } } }')
        expect(fast).toEqual(normal)
        expect(firstError(fast.body)?.extensions.code).toBe('FORBIDDEN')
      }
      expect(pair.compiled()).toBe(0)
    } finally {
      await pair.close()
    }
  })

  it('logs a consistency timeout once, at info and with the request id, as the normal path does', async () => {
    const lines: Record<string, unknown>[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        done()
      },
    })
    const pair = await startPair({ logger: { level: 'info', stream }, consistencyTimeoutMs: 20 })
    try {
      const waiting =
        'query Wait($token: String) { tankLevel(tankId: "x", consistentWith: $token) { litres } }'
      await warm(pair, waiting, { variables: { token: '0' } })
      for (const gateway of [pair.fast, pair.normal]) {
        ;(gateway.app.annals.readSide as ProjectionReadSide).projection('tankLevel').pause()
      }
      const written = await pair.fast.gql(
        'mutation { fill(id: "x", input: { site: "s", litres: 1 }) { token } }',
      )
      const token = String((written.body.data?.['fill'] as { token: string }).token)
      const before = pair.compiled()
      const requestId = 'fault-1'
      const { fast, normal } = await pair.both(waiting, {
        variables: { token },
        headers: { 'x-request-id': requestId },
      })
      expect(fast).toEqual(normal)
      expect(firstError(fast.body)?.extensions.code).toBe('CONSISTENCY_TIMEOUT')
      expect(pair.compiled() - before).toBe(1)
      expect(lines.filter((line) => line['requestId'] === requestId)).toEqual([
        expect.objectContaining({ level: 30, code: 'CONSISTENCY_TIMEOUT' }),
        expect.objectContaining({ level: 30, code: 'CONSISTENCY_TIMEOUT' }),
      ])
    } finally {
      await pair.close()
    }
  })
})
