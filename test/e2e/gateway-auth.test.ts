import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, subscribe } from './fixtures/subscribe-over-ws.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

const secret = 'a-test-secret-of-enough-length-for-hs256'

describe('authentication and authorization', () => {
  let gateway: RunningGateway
  let operator: Record<string, string>
  let viewer: Record<string, string>
  const bearer = (claims: Record<string, unknown>) => ({
    authorization: `Bearer ${gateway.app.jwt.sign(claims)}`,
  })
  beforeAll(async () => {
    gateway = await startGateway({
      auth: { jwt: { secret } },
      authorize: {
        commands: { seal: (principal) => principal?.roles.includes('operator') ?? false },
        queries: { tankLevel: (principal) => principal !== undefined },
        subscriptions: { Tank: (principal) => principal?.roles.includes('operator') ?? false },
      },
    })
    operator = bearer({ sub: 'olga', roles: ['operator'] })
    viewer = bearer({ sub: 'vic', roles: ['viewer'] })
    await gateway.gql('mutation { fill(id: "a1", input: { site: "s", litres: 1 }) { token } }', {}, operator)
  })
  afterAll(() => gateway.close())

  it('runs a command its rule allows for the principal in the token', async () => {
    const { body } = await gateway.gql('mutation { seal(id: "a1") { revision } }', {}, operator)
    expect(body.data?.['seal']).toEqual({ revision: '1' })
  })

  it('refuses a command to a signed-in principal without the role with FORBIDDEN', async () => {
    const { body } = await gateway.gql('mutation { seal(id: "a1") { revision } }', {}, viewer)
    expect(body.errors?.[0]?.extensions.code).toBe('FORBIDDEN')
  })

  it('refuses a command to an anonymous caller with UNAUTHENTICATED', async () => {
    const { body } = await gateway.gql('mutation { seal(id: "a1") { revision } }')
    expect(body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED')
  })

  it('refuses a bad token with UNAUTHENTICATED and status 401', async () => {
    const { status, body } = await gateway.gql(
      '{ tankLevel(tankId: "a1") { litres } }',
      {},
      {
        authorization: 'Bearer not.a.token',
      },
    )
    expect(status).toBe(401)
    expect(body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED')
  })

  it('applies query rules', async () => {
    expect(
      (await gateway.gql('{ tankLevel(tankId: "a1") { litres } }')).body.errors?.[0]?.extensions.code,
    ).toBe('UNAUTHENTICATED')
    expect(
      (await gateway.gql('{ tankLevel(tankId: "a1") { litres } }', {}, viewer)).body.errors,
    ).toBeUndefined()
  })

  it('authenticates a subscription from its connection_init payload and authorizes each operation', async () => {
    const query = 'subscription { tankEvents(id: "a1") { __typename } }'
    const allowed = connectClient(gateway.wsUrl, operator)
    expect(await subscribe(allowed, query).take(1)).toEqual([{ tankEvents: { __typename: 'TankFilled' } }])
    await allowed.dispose()
    const denied = connectClient(gateway.wsUrl, viewer)
    expect((await subscribe(denied, query).errors)[0]?.extensions?.code).toBe('FORBIDDEN')
    await denied.dispose()
  })

  it('closes a WebSocket connection whose connection_init carries a bad token', async () => {
    const client = connectClient(gateway.wsUrl, { authorization: 'Bearer forged' })
    const errors = await subscribe(client, 'subscription { tankEvents(id: "a1") { __typename } }').errors
    expect(errors[0]?.message).toMatch(/Unauthorized/)
    await client.dispose()
  })
})

describe('a custom authenticate function', () => {
  it('receives the request and decides the principal', async () => {
    const gateway = await startGateway({
      authenticate: (request) =>
        Promise.resolve(request.headers['x-user'] === 'ann' ? { id: 'ann', roles: ['operator'] } : undefined),
      authorize: { commands: { seal: (principal) => principal?.id === 'ann', fill: () => true } },
    })
    try {
      await gateway.gql('mutation { fill(id: "c1", input: { site: "s", litres: 1 }) { token } }')
      expect(
        (await gateway.gql('mutation { seal(id: "c1") { revision } }', {}, { 'x-user': 'ann' })).body.data,
      ).toEqual({
        seal: { revision: '1' },
      })
    } finally {
      await gateway.close()
    }
  })
})
