import { Writable } from 'node:stream'
import { createSigner } from 'fast-jwt'
import { createClient } from 'graphql-ws'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'

const secret = 'a-test-secret-of-enough-length-for-hs256'
const FILL = 'mutation { fill(id: "t-1", input: { site: "s", litres: 1 }) { revision } }'

/** Pino's JSON lines, as a logger option that writes them here. */
function capturedLog() {
  const lines: { level: number; msg: string }[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) lines.push(JSON.parse(line) as { level: number; msg: string })
      done()
    },
  })
  return { lines, logger: { level: 'info', stream } }
}

/** POSTs a GraphQL request as JSON: the whole response, headers included. */
function post(url: string, query: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  })
}

describe('authentication required in production (abuse)', () => {
  it('refuses to start under NODE_ENV=production without an auth configuration, with BAD_CONFIG', async () => {
    const starting = startGateway({ env: { NODE_ENV: 'production' } })
    await expect(starting).rejects.toMatchObject({ code: 'BAD_CONFIG' })
    await expect(starting).rejects.toThrow(/auth: 'none'/)
  })

  it("starts with auth: 'none' in production and says so at warn", async () => {
    const log = capturedLog()
    const gateway = await startGateway({
      auth: 'none',
      logger: log.logger,
      env: { NODE_ENV: 'production', ANNALS_METRICS_PORT: '0' },
    })
    await gateway.close()
    const warnings = log.lines.filter((line) => line.level === 40).map((line) => line.msg)
    expect(warnings.some((message) => message.startsWith('No authentication'))).toBe(true)
  })

  it('refuses a JWT secret shorter than 32 bytes at start-up', async () => {
    await expect(startGateway({ auth: { jwt: { secret: 'x' } } })).rejects.toMatchObject({
      code: 'BAD_CONFIG',
    })
    await expect(
      startGateway({ env: { NODE_ENV: 'test', ANNALS_JWT_SECRET: 'x'.repeat(31) } }),
    ).rejects.toMatchObject({
      code: 'BAD_CONFIG',
    })
  })
})

describe('metrics in production (abuse)', () => {
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({
      env: { NODE_ENV: 'production', ANNALS_AUTH: 'none', ANNALS_METRICS_PORT: '0' },
    })
  })
  afterAll(() => gateway.close())

  it('serves /metrics on its own port, not on the public one', async () => {
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(404)
    const metricsUrl = gateway.app.annals.metricsUrl()
    expect(metricsUrl).toBeDefined()
    const response = await fetch(metricsUrl!)
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('# HELP')
  })
})

describe('JWT authentication (abuse)', () => {
  let gateway: RunningGateway
  const sign = createSigner({ key: secret })
  const bearer = (claims: Record<string, unknown>) => ({ authorization: `Bearer ${sign(claims)}` })
  beforeAll(async () => {
    gateway = await startGateway({
      auth: { jwt: { secret, issuer: 'https://id.example', audience: 'plant' } },
      authorize: {
        commands: { drain: () => true, seal: (principal) => principal?.roles.includes('operator') ?? false },
      },
    })
  })
  afterAll(() => gateway.close())

  it('refuses a mutation from an anonymous caller with 401 UNAUTHENTICATED when no rule allows it', async () => {
    const { status, body } = await gateway.gql(FILL)
    expect(status).toBe(401)
    expect(body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED')
  })

  it('lets an anonymous caller run a command whose rule allows it', async () => {
    const { body } = await gateway.gql('mutation { drain(id: "t-anon", input: { litres: 1 }) { revision } }')
    expect(body.errors?.[0]?.extensions.code).toBe('NOT_ENOUGH_WATER')
  })

  it('refuses a signed-in principal a command its rule denies with 403 FORBIDDEN', async () => {
    const claims = { sub: 'vic', roles: ['viewer'], iss: 'https://id.example', aud: 'plant' }
    const { status, body } = await gateway.gql(
      'mutation { seal(id: "t-1") { revision } }',
      {},
      bearer(claims),
    )
    expect(status).toBe(403)
    expect(body.errors?.[0]?.extensions.code).toBe('FORBIDDEN')
  })

  it('runs the mutation for a token of the configured issuer and audience', async () => {
    const claims = { sub: 'olga', roles: [], iss: 'https://id.example', aud: 'plant' }
    const { status, body } = await gateway.gql(FILL, {}, bearer(claims))
    expect(body.data?.['fill']).toEqual({ revision: '0' })
    expect(status).toBe(200)
  })

  it('names the Bearer scheme in WWW-Authenticate on a 401 to an anonymous caller, without an error code', async () => {
    const response = await post(gateway.url, FILL)
    expect({ status: response.status, challenge: response.headers.get('www-authenticate') }).toEqual({
      status: 401,
      challenge: 'Bearer realm="annals"',
    })
  })

  it('answers a token it does not accept with 401 and WWW-Authenticate error="invalid_token", over POST and GET', async () => {
    const forged = { authorization: `Bearer ${createSigner({ key: 'x'.repeat(32) })({ sub: 'eve' })}` }
    const query = '{ tankLevel(tankId: "t-1") { litres } }'
    const get = await fetch(`${gateway.url}/graphql?query=${encodeURIComponent(query)}`, {
      headers: { ...forged, 'x-annals-csrf': '1' },
    })
    for (const response of [
      await post(gateway.url, FILL, forged),
      await post(gateway.url, query, forged),
      get,
    ]) {
      expect({ status: response.status, challenge: response.headers.get('www-authenticate') }).toEqual({
        status: 401,
        challenge: 'Bearer realm="annals", error="invalid_token"',
      })
    }
  })

  it('answers an authorization header of another scheme with 401 and the bare Bearer challenge', async () => {
    const response = await post(gateway.url, FILL, { authorization: 'Basic bWFsbG9yeTpzZWNyZXQ=' })
    expect({ status: response.status, challenge: response.headers.get('www-authenticate') }).toEqual({
      status: 401,
      challenge: 'Bearer realm="annals"',
    })
  })

  it('sends no WWW-Authenticate with a 403 nor with a 200', async () => {
    const claims = { sub: 'vic', roles: ['viewer'], iss: 'https://id.example', aud: 'plant' }
    const forbidden = await post(gateway.url, 'mutation { seal(id: "t-1") { revision } }', bearer(claims))
    const ok = await post(gateway.url, '{ tankLevel(tankId: "t-1") { litres } }')
    expect([forbidden.status, ok.status]).toEqual([403, 200])
    expect([forbidden.headers.get('www-authenticate'), ok.headers.get('www-authenticate')]).toEqual([
      null,
      null,
    ])
  })

  it('upgrades a WebSocket with a token it does not accept, then closes it 4401 at connection_init', async () => {
    const forged = `Bearer ${createSigner({ key: 'x'.repeat(32) })({ sub: 'eve' })}`
    class WithToken extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { authorization: forged } })
      }
    }
    let opened = false
    const client = createClient({
      url: gateway.wsUrl,
      webSocketImpl: WithToken,
      retryAttempts: 0,
      lazy: true,
      on: { opened: () => (opened = true) },
    })
    const closed = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: '{ __typename }' }, { next: resolve, error: resolve, complete: () => {} })
    }).finally(() => client.dispose())
    expect({ opened, code: (closed as { code?: number }).code }).toEqual({ opened: true, code: 4401 })
  })

  it('refuses a token of another issuer or for another audience with 401', async () => {
    for (const claims of [
      { sub: 'mallory', iss: 'https://other.example', aud: 'plant' },
      { sub: 'mallory', iss: 'https://id.example', aud: 'billing' },
    ]) {
      const { status, body } = await gateway.gql(FILL, {}, bearer(claims))
      expect(status).toBe(401)
      expect(body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED')
    }
  })
})

describe('schema suggestions (abuse)', () => {
  let closed: RunningGateway
  let open: RunningGateway
  beforeAll(async () => {
    closed = await startGateway({ introspection: false })
    open = await startGateway({ introspection: true })
  })
  afterAll(async () => {
    await closed.close()
    await open.close()
  })

  const misspelt = '{ tankLeve(tankId: "t") { litres } }'
  it('names no field in an error when introspection is off', async () => {
    const { body } = await closed.gql(misspelt)
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
    expect(body.errors?.[0]?.message).not.toMatch(/Did you mean|tankLevel/)
  })

  it('keeps the suggestion when introspection is on', async () => {
    const { body } = await open.gql(misspelt)
    expect(body.errors?.[0]?.message).toMatch(/Did you mean "tankLevel/)
  })
})
