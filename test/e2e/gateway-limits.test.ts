import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, subscribe } from './fixtures/subscribe-over-ws.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

const deep =
  'mutation { fill(id: "d1", input: { site: "s", litres: 1 }) { events { ... on TankFilled { data { site } } } } }'
const costly = 'query($n: Int) { tankLevelList(first: $n) { nodes { tankId litres } } }'
const aliased =
  '{ a: tankLevel(tankId: "x") { litres } b: tankLevel(tankId: "y") { litres } c: tankLevel(tankId: "z") { litres } }'
const introspection = '{ __schema { queryType { name } } }'
// Cost 2 and depth 2, but four fragment spreads once each spread is inlined with its fragment's own.
const spread =
  '{ tankLevel(tankId: "x") { ...A ...A } } fragment A on TankLevel { litres ...B } fragment B on TankLevel { site }'
const rowSubscription = 'subscription { tankLevelChanged(tankId: "x") { kind } }'

const strictLimits = {
  maxDepth: 3,
  maxCost: 60,
  maxAliases: 2,
  maxFragmentSpreads: 3,
  maxBatch: 2,
  maxBodyBytes: 2048,
  maxSubscriptionsPerConnection: 1,
  rateLimit: false as const,
}
const noLimits = {
  maxDepth: Infinity,
  maxCost: Infinity,
  maxAliases: Infinity,
  maxFragmentSpreads: Infinity,
  maxBatch: Infinity,
  maxSubscriptionsPerConnection: Infinity,
  rateLimit: false as const,
}

describe('limits that hold on every request', () => {
  let strict: RunningGateway
  let open: RunningGateway
  beforeAll(async () => {
    strict = await startGateway({
      limits: strictLimits,
      auth: 'none',
      metrics: 'main',
      env: { NODE_ENV: 'production' },
    })
    open = await startGateway({ limits: noLimits, csrf: false, introspection: true })
  })
  afterAll(async () => {
    await strict.close()
    await open.close()
  })

  it('refuses a document deeper than the limit, each time it is sent', async () => {
    for (const attempt of [1, 2]) {
      const { status, body } = await strict.gql(deep)
      expect({ attempt, status, code: body.errors?.[0]?.extensions.code }).toEqual({
        attempt,
        status: 400,
        code: 'LIMIT_EXCEEDED',
      })
    }
    expect((await open.gql(deep)).body.errors).toBeUndefined()
  })

  it('costs pagination from the variables of each request, so the same document passes then fails', async () => {
    expect((await strict.gql(costly, { n: 5 })).body.errors).toBeUndefined()
    expect((await strict.gql(costly, { n: 5 })).body.errors).toBeUndefined()
    const { body } = await strict.gql(costly, { n: 50 })
    expect(body.errors?.[0]).toMatchObject({ extensions: { code: 'LIMIT_EXCEEDED', limit: 'cost' } })
    expect((await open.gql(costly, { n: 50 })).body.errors).toBeUndefined()
  })

  it('refuses more aliases than the limit', async () => {
    expect((await strict.gql(aliased)).body.errors?.[0]?.extensions).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      limit: 'alias count',
    })
    expect((await open.gql(aliased)).body.errors).toBeUndefined()
  })

  it('refuses more fragment spreads than the limit, counted as inlining expands them, each time', async () => {
    for (const attempt of [1, 2, 3]) {
      const { status, body } = await strict.gql(spread)
      expect({ attempt, status, error: body.errors?.[0]?.extensions }).toEqual({
        attempt,
        status: 400,
        error: expect.objectContaining({
          code: 'LIMIT_EXCEEDED',
          limit: 'fragment spread count',
          value: 4,
        }) as unknown,
      })
    }
    expect((await open.gql(spread)).body.errors).toBeUndefined()
  })

  it('refuses a batch of more operations than the limit', async () => {
    const batch = (gateway: RunningGateway) =>
      fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([1, 2, 3].map((n) => ({ query: `{ tankLevel(tankId: "b${n}") { litres } }` }))),
      })
    const refused = await batch(strict)
    expect(refused.status).toBe(400)
    expect(
      ((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe('LIMIT_EXCEEDED')
    expect((await batch(open)).status).toBe(200)
  })

  it('refuses a request body over the size limit', async () => {
    const padding = 'x'.repeat(4096)
    const { status, body } = await strict.gql(`{ tankLevel(tankId: "${padding}") { litres } }`)
    expect(status).toBe(413)
    expect(body.errors?.[0]?.extensions.code).toBe('LIMIT_EXCEEDED')
    expect((await open.gql(`{ tankLevel(tankId: "${padding}") { litres } }`)).status).toBe(200)
  })

  it('refuses more subscriptions on one connection than the limit', async () => {
    const client = connectClient(strict.wsUrl)
    const first = subscribe(client, rowSubscription)
    await first.take(1)
    const second = subscribe(client, rowSubscription)
    expect((await second.errors)[0]?.extensions?.code).toBe('LIMIT_EXCEEDED')
    await client.dispose()
    const unlimited = connectClient(open.wsUrl)
    await subscribe(unlimited, rowSubscription).take(1)
    await subscribe(unlimited, rowSubscription).take(1)
    await unlimited.dispose()
  })

  it('turns introspection and GraphiQL off in production and on in development', async () => {
    expect((await strict.gql(introspection)).body.errors?.[0]?.extensions.code).toBe('FORBIDDEN')
    expect((await open.gql(introspection)).body.data).toEqual({ __schema: { queryType: { name: 'Query' } } })
    expect((await fetch(`${strict.url}/graphiql`)).status).toBe(404)
    expect((await fetch(`${open.url}/graphiql`)).status).toBe(200)
  })

  it('refuses a GET without a preflight header and a POST that is not JSON (CSRF)', async () => {
    const get = (gateway: RunningGateway) =>
      fetch(`${gateway.url}/graphql?query=${encodeURIComponent('{ tankLevel(tankId: "x") { litres } }')}`)
    const refused = await get(strict)
    expect(refused.status).toBe(400)
    expect(
      ((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe('BAD_INPUT')
    const form = await fetch(`${strict.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: 'mutation { seal(id: "csrf") { revision } }' }),
    })
    expect(form.status).toBe(400)
    expect((await get(open)).status).toBe(200)
    const withHeader = await fetch(
      `${strict.url}/graphql?query=${encodeURIComponent('{ tankLevel(tankId: "x") { litres } }')}`,
      {
        headers: { 'x-annals-csrf': '1' },
      },
    )
    expect(withHeader.status).toBe(200)
  })

  it('refuses a mutation sent with GET', async () => {
    const response = await fetch(
      `${open.url}/graphql?query=${encodeURIComponent('mutation { seal(id: "g1") { revision } }')}`,
    )
    expect(response.status).toBe(405)
  })
})

describe('the rate limit', () => {
  it('refuses a client over its budget with RATE_LIMITED and 429, and not another client', async () => {
    const gateway = await startGateway({ limits: { rateLimit: { burst: 3, perSecond: 0.01 } } })
    try {
      const query = '{ tankLevel(tankId: "x") { litres } }'
      for (let n = 0; n < 3; n++) expect((await gateway.gql(query)).status).toBe(200)
      const { status, body } = await gateway.gql(query)
      expect(status).toBe(429)
      expect(body.errors?.[0]?.extensions.code).toBe('RATE_LIMITED')
    } finally {
      await gateway.close()
    }
    const unlimited = await startGateway({ limits: { rateLimit: false } })
    try {
      for (let n = 0; n < 5; n++)
        expect((await unlimited.gql('{ tankLevel(tankId: "x") { litres } }')).status).toBe(200)
    } finally {
      await unlimited.close()
    }
  })
})
