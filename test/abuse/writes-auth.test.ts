import { Writable } from 'node:stream'
import { createSigner } from 'fast-jwt'
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
