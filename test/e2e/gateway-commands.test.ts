/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument -- GraphQL replies are untyped JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInMemoryReadModels, createReadSide } from 'annals/projections'
import { gateCommits } from '../projections/commit-gate.fixture.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'
import { TankLevel } from './fixtures/tank.ts'

const fill = `mutation Fill($id: ID!, $site: String!, $litres: Int!, $commandId: ID) {
  fill(id: $id, input: { site: $site, litres: $litres }, commandId: $commandId) {
    aggregateId revision token
    events { __typename ... on TankFilled { type revision position data { site litres } } }
  }
}`

describe('GraphQL mutations and queries', () => {
  let gateway: RunningGateway
  // The projection is slow on purpose when a test holds its commits: a read must be seen to wait.
  const gate = gateCommits(createInMemoryReadModels())
  let releaseOnRead = false
  beforeAll(async () => {
    gateway = await startGateway({
      consistencyTimeoutMs: 300,
      readSide: createReadSide({ projections: [TankLevel], database: gate.database }),
      authorize: {
        queries: {
          // Runs as the query starts, before it waits: the commit is let through only after that.
          tankLevel: () => {
            if (releaseOnRead) setImmediate(() => gate.release())
            releaseOnRead = false
            return true
          },
        },
      },
    })
  })
  afterAll(() => gateway.close())

  it('runs a command as a mutation and returns its typed events and a token', async () => {
    const { status, body } = await gateway.gql(fill, { id: 't1', site: 'north', litres: 40 })
    expect(status).toBe(200)
    expect(body.data?.['fill']).toMatchObject({
      aggregateId: 't1',
      revision: '0',
      events: [
        { __typename: 'TankFilled', type: 'TankFilled', revision: '0', data: { site: 'north', litres: 40 } },
      ],
    })
    expect(body.data?.['fill'].token).toBe(body.data?.['fill'].events[0].position)
  })

  it('omits the input argument of a command without fields', async () => {
    await gateway.gql(fill, { id: 't-seal', site: 'north', litres: 1 })
    const { body } = await gateway.gql('mutation { seal(id: "t-seal") { revision events { __typename } } }')
    expect(body.data?.['seal']).toEqual({ revision: '1', events: [{ __typename: 'TankSealed' }] })
  })

  it('runs the operation operationName names, every time, in a document of several', async () => {
    // mercurius compiles a document once, for the operation of the request that compiled it; the gateway
    // must still run the one each later request names (a POST is compiled on its second run).
    await gateway.gql(fill, { id: 't-ops', site: 'east', litres: 3 })
    const document = `query Site { tankLevel(tankId: "t-ops") { site } }
      query Litres { tankLevel(tankId: "t-ops") { litres } }`
    const run = async (operationName: string) => {
      const response = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: document, operationName }),
      })
      return (await response.json()) as { data?: unknown }
    }
    for (const operationName of ['Site', 'Site', 'Litres', 'Site', 'Litres']) {
      const expected = operationName === 'Site' ? { site: 'east' } : { litres: 3 }
      expect({ operationName, ...(await run(operationName)) }).toEqual({
        operationName,
        data: { tankLevel: expected },
      })
    }
  })

  it('reads its own write with the token as consistentWith, waiting while the projection is behind', async () => {
    gate.hold()
    const written = await gateway.gql(fill, { id: 't2', site: 'south', litres: 7 })
    await gate.untilWaiting()
    releaseOnRead = true
    const token = written.body.data?.['fill'].token as string
    const { body } = await gateway.gql(
      'query($t: String) { tankLevel(tankId: "t2", consistentWith: $t) { tankId site litres status } }',
      { t: token },
    )
    expect(body.data?.['tankLevel']).toEqual({ tankId: 't2', site: 'south', litres: 7, status: 'open' })
  })

  it('lists rows with a typed filter, an order and cursor pagination', async () => {
    let token = ''
    for (const [id, litres] of [
      ['p1', 5],
      ['p2', 9],
      ['p3', 7],
    ] as const) {
      token = (await gateway.gql(fill, { id, site: 'paged', litres })).body.data?.['fill'].token as string
    }
    const query = `query($after: String, $t: String) {
      tankLevelList(where: { site: { eq: "paged" }, litres: { gte: 6 } }, orderBy: [{ field: litres, direction: desc }],
        first: 1, after: $after, consistentWith: $t) {
        nodes { tankId litres } pageInfo { endCursor hasNextPage } position
      }
    }`
    const first = (await gateway.gql(query, { t: token })).body.data?.['tankLevelList']
    expect(first.nodes).toEqual([{ tankId: 'p2', litres: 9 }])
    expect(first.pageInfo.hasNextPage).toBe(true)
    expect(BigInt(first.position)).toBeGreaterThanOrEqual(BigInt(token))
    const second = (await gateway.gql(query, { after: first.pageInfo.endCursor })).body.data?.[
      'tankLevelList'
    ]
    expect(second.nodes).toEqual([{ tankId: 'p3', litres: 7 }])
    expect(second.pageInfo.hasNextPage).toBe(false)
  })

  it('refuses invalid input with BAD_INPUT and the zod issues by field path, appending nothing', async () => {
    const { status, body } = await gateway.gql(fill, { id: 'bad', site: '', litres: 20_000 })
    expect(status).toBe(200)
    const error = body.errors?.[0]
    expect(error?.extensions.code).toBe('BAD_INPUT')
    const paths = (error?.extensions['issues'] as { path: string[] }[]).map((issue) => issue.path.join('.'))
    expect(paths.sort()).toEqual(['input.litres', 'input.site'])
    expect(await gateway.store.headPosition()).toBeGreaterThan(0n)
    const events = []
    for await (const event of gateway.store.readStream('Tank-bad')) events.push(event)
    expect(events).toEqual([])
  })

  it('refuses a value GraphQL cannot coerce with BAD_INPUT', async () => {
    const { status, body } = await gateway.gql(fill, { id: 'bad', site: 'x', litres: 'many' })
    expect(status).toBe(400)
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
  })

  it('carries the domain error code of a refused command', async () => {
    await gateway.gql(fill, { id: 't3', site: 'east', litres: 2 })
    const { body } = await gateway.gql('mutation { drain(id: "t3", input: { litres: 5 }) { revision } }')
    expect(body.errors?.[0]).toMatchObject({
      message: 'The tank holds 2 litres',
      extensions: { code: 'NOT_ENOUGH_WATER' },
    })
  })

  it('appends once for a command sent twice with the same commandId', async () => {
    const commandId = '3b241101-e2bb-4255-8caf-4136c566a962'
    const first = await gateway.gql(fill, { id: 't4', site: 'west', litres: 1, commandId })
    const second = await gateway.gql(fill, { id: 't4', site: 'west', litres: 1, commandId })
    expect(second.body.data?.['fill'].revision).toBe(first.body.data?.['fill'].revision)
    expect(second.body.data?.['fill'].token).toBe(first.body.data?.['fill'].token)
  })

  it('refuses a token beyond the head of the log at once with TOKEN_BEYOND_HEAD', async () => {
    const { body } = await gateway.gql(
      '{ tankLevel(tankId: "t1", consistentWith: "999999999999") { litres } }',
    )
    expect(body.errors?.[0]?.extensions.code).toBe('TOKEN_BEYOND_HEAD')
  })

  it('refuses a malformed token with BAD_INPUT', async () => {
    const { body } = await gateway.gql('{ tankLevel(tankId: "t1", consistentWith: "yesterday") { litres } }')
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
  })
})
