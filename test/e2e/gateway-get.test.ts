import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import type { ServerOptions } from '../../framework/server/create-server.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

// GET queries, sent again and again as clients do: mercurius runs a document through graphql-js the first time
// and through graphql-jit once it compiled it, and every guard must hold on every run.

const page = `query Page($first: Int, $after: String) { tankLevelList(first: $first, after: $after) {
  nodes { tankId ...levels status __typename } pageInfo { endCursor hasNextPage } position } }
  fragment levels on TankLevel { site amount: litres }`
const costly = 'query Costly($n: Int) { tankLevelList(first: $n) { nodes { tankId litres } } }'
const one = 'query One($id: ID!) { tankLevel(tankId: $id) { tankId site litres } }'

interface GetRequest {
  readonly variables?: unknown
  readonly operationName?: string
  readonly headers?: Record<string, string>
}

interface Reply {
  readonly status: number
  readonly type: string | null
  readonly body: string
}

async function get(gateway: RunningGateway, query: string, request: GetRequest = {}): Promise<Reply> {
  const search = new URLSearchParams({ query })
  if (request.variables !== undefined) search.set('variables', JSON.stringify(request.variables))
  if (request.operationName !== undefined) search.set('operationName', request.operationName)
  const response = await fetch(`${gateway.url}/graphql?${search.toString()}`, {
    headers: { 'x-annals-csrf': '1', ...request.headers },
  })
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() }
}

function firstError(reply: Reply): ({ code: string } & Record<string, unknown>) | undefined {
  return (JSON.parse(reply.body) as { errors?: { extensions: { code: string } }[] }).errors?.[0]?.extensions
}

/** Fills a tank per site (the n-th with n + 1 litres) and waits until the read model has them. */
async function fill(gateway: RunningGateway, sites: readonly string[]): Promise<void> {
  let last = 0n
  for (const [n, site] of sites.entries()) {
    const event = { id: randomUUID(), type: 'TankFilled', data: { site, litres: n + 1 } }
    last = (await gateway.store.appendToStream(`Tank-t${n}`, [event])).position
  }
  await gateway.app.annals.readSide?.sources[0]?.waitFor(last, 5000)
}

async function withGateway(
  options: Partial<ServerOptions>,
  test: (gateway: RunningGateway) => Promise<void>,
) {
  const gateway = await startGateway(options)
  try {
    await test(gateway)
  } finally {
    await gateway.close()
  }
}

describe('GET queries sent again and again', () => {
  const awkward = ['plain', 'quote " and \\ backslash', 'emoji 😀', 'control \u0001\n\t', '</script>']
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({ limits: { maxPageSize: 20, rateLimit: false } })
    await fill(gateway, awkward)
  })
  afterAll(() => gateway.close())

  it('answers a page with the same status, content type and bytes on every run', async () => {
    const replies = []
    for (let run = 0; run < 4; run++) replies.push(await get(gateway, page, { variables: { first: 10 } }))
    // The read model's position moves with the devstore's own system events; the rest is the same bytes.
    const samePosition = (reply: Reply) => ({ ...reply, body: reply.body.replace(/"position":"\d+"/, '') })
    for (const reply of replies) expect(samePosition(reply)).toEqual(samePosition(replies[0]!))
    expect(replies[0]).toMatchObject({ status: 200, type: 'application/json; charset=utf-8' })
    const { data } = JSON.parse(replies[0]!.body) as {
      data: { tankLevelList: { nodes: { site: string; amount: number; __typename: string }[] } }
    }
    expect(
      data.tankLevelList.nodes
        .map(({ site, amount }) => ({ site, amount }))
        .sort((a, b) => a.amount - b.amount),
    ).toEqual(awkward.map((site, n) => ({ site, amount: n + 1 })))
    expect(new Set(data.tankLevelList.nodes.map((node) => node.__typename))).toEqual(new Set(['TankLevel']))
  })

  it('answers each operation of a document by its operationName, on every run', async () => {
    const two = `${one} query Other { tankLevelList(first: 1) { nodes { site } } }`
    for (let run = 0; run < 3; run++) {
      const named: unknown = JSON.parse(
        (await get(gateway, two, { operationName: 'One', variables: { id: 't0' } })).body,
      )
      expect(named).toMatchObject({ data: { tankLevel: { tankId: 't0', site: 'plain', litres: 1 } } })
      const other = JSON.parse((await get(gateway, two, { operationName: 'Other' })).body) as {
        data: { tankLevelList: { nodes: unknown[] } }
      }
      expect(other.data.tankLevelList.nodes).toHaveLength(1)
      // mercurius itself fails on a GET that selects no operation (a TypeError, INTERNAL); the gate answers first.
      for (const [operationName, message] of [
        ['Missing', 'Unknown operation named "Missing".'],
        [undefined, 'Must provide operation name if query contains multiple operations.'],
      ] as const) {
        const refused = await get(gateway, two, operationName === undefined ? {} : { operationName })
        expect(refused.status).toBe(400)
        expect(JSON.parse(refused.body)).toEqual({
          data: null,
          errors: [{ message, extensions: { code: 'BAD_INPUT' } }],
        })
      }
    }
  })

  it('refuses a mutation sent with GET, every time', async () => {
    for (let run = 0; run < 3; run++) {
      expect((await get(gateway, 'mutation { seal(id: "g1") { revision } }')).status).toBe(405)
    }
  })
})

describe('guards on repeated GETs', () => {
  it('costs pagination from each request variables, so the same document passes then fails', async () => {
    await withGateway({ limits: { maxCost: 60, rateLimit: false } }, async (gateway) => {
      for (let run = 0; run < 3; run++)
        expect((await get(gateway, costly, { variables: { n: 5 } })).status).toBe(200)
      const failing = await get(gateway, costly, { variables: { n: 50 } })
      expect(firstError(failing)).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'cost' })
    })
  })

  it('authenticates and authorizes each request', async () => {
    const options: Partial<ServerOptions> = {
      limits: { rateLimit: false },
      authenticate: (request) => {
        const user = request.headers['x-user']
        return Promise.resolve(typeof user === 'string' ? { id: user, roles: user.split('-') } : undefined)
      },
      authorize: {
        commands: { fill: () => true },
        queries: { tankLevel: (principal) => principal?.roles.includes('reader') ?? false },
      },
    }
    await withGateway(options, async (gateway) => {
      await fill(gateway, ['a', 'b'])
      const reader = { 'x-user': 'ann-reader' }
      const codes = []
      for (const headers of [reader, reader, {}, { 'x-user': 'bob-writer' }, reader]) {
        codes.push(firstError(await get(gateway, one, { variables: { id: 't1' }, headers }))?.code ?? 'ok')
      }
      expect(codes).toEqual(['ok', 'ok', 'UNAUTHENTICATED', 'FORBIDDEN', 'ok'])
    })
  })

  it('takes a rate-limit token for each request and refuses past the burst', async () => {
    await withGateway({ limits: { rateLimit: { burst: 4, perSecond: 0.001 } } }, async (gateway) => {
      const statuses = []
      for (let run = 0; run < 5; run++)
        statuses.push((await get(gateway, one, { variables: { id: 'x' } })).status)
      expect(statuses).toEqual([200, 200, 200, 200, 429])
    })
  })

  it('refuses introspection in production on every GET', async () => {
    const production = {
      env: { NODE_ENV: 'production' },
      auth: 'none',
      metrics: 'main',
      limits: { rateLimit: false },
    }
    await withGateway(production as Partial<ServerOptions>, async (gateway) => {
      for (let run = 0; run < 3; run++) {
        expect(firstError(await get(gateway, '{ __schema { queryType { name } } }'))?.code).toBe('FORBIDDEN')
      }
    })
  })

  it('logs a consistency timeout once, at info and with the request id', async () => {
    const lines: Record<string, unknown>[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        done()
      },
    })
    await withGateway({ logger: { level: 'info', stream }, consistencyTimeoutMs: 20 }, async (gateway) => {
      const waiting =
        'query Wait($token: String) { tankLevel(tankId: "x", consistentWith: $token) { litres } }'
      for (let run = 0; run < 2; run++) await get(gateway, waiting, { variables: { token: '0' } })
      ;(gateway.app.annals.readSide as ProjectionReadSide).projection('tankLevel').pause()
      const written = await gateway.gql(
        'mutation { fill(id: "x", input: { site: "s", litres: 1 }) { token } }',
      )
      const token = String((written.body.data?.['fill'] as { token: string }).token)
      const requestId = 'fault-1'
      const reply = await get(gateway, waiting, {
        variables: { token },
        headers: { 'x-request-id': requestId },
      })
      expect(firstError(reply)?.code).toBe('CONSISTENCY_TIMEOUT')
      expect(lines.filter((line) => line['requestId'] === requestId)).toEqual([
        expect.objectContaining({ level: 30, code: 'CONSISTENCY_TIMEOUT' }),
      ])
    })
  })
})
