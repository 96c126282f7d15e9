// Issue 14, item 1: validation work a document inside the size limits can ask for. graphql's
// OverlappingFieldsCanBeMerged compares every two fields of one response name, so 300 copies of one field (about
// 2,700 tokens, inside maxTokens) held the event loop for ~125 ms per validation, twice per request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultLimits } from '../../framework/graphql/guards/gateway-limits.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { captureLog } from './fixtures/captured-log.ts'

const copies = (count: number, selection: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => selection(i)).join(' ')

/** `count` copies of one field with the same argument: valid, and merged into one field by graphql. */
const repeatedField = (count: number) => `{ ${copies(count, () => 'tankLevel(tankId: "x") { litres }')} }`

describe('documents that ask validation for quadratic work (abuse)', () => {
  const log = captureLog()
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({ logger: log.logger, limits: { rateLimit: false } })
  })
  afterAll(() => gateway.close())

  const refusedForPairs = {
    status: 400,
    error: { code: 'LIMIT_EXCEEDED', limit: 'field pairs', max: defaultLimits.maxFieldPairs },
  }
  const answer = async (query: string) => {
    const { status, body } = await gateway.gql(query)
    return { status, error: body.errors?.[0]?.extensions }
  }

  it('refuses 300 copies of one field, inside the token limit, with LIMIT_EXCEEDED before validating them', async () => {
    const query = repeatedField(300)
    expect(query.length).toBeLessThan(defaultLimits.maxQueryLength)
    expect(await answer(query)).toEqual(refusedForPairs)
  })

  it('refuses the same copies in a fragment that no operation spreads', async () => {
    expect(await answer(`{ __typename } fragment Unused on Query ${repeatedField(300)}`)).toEqual(
      refusedForPairs,
    )
  })

  it('refuses 300 fragments spread in one selection set, each pair of which validation compares', async () => {
    const query =
      `{ ${copies(300, (i) => `...F${i}`)} } ` + copies(300, (i) => `fragment F${i} on Query { __typename }`)
    expect(await answer(query)).toEqual(refusedForPairs)
  })

  it('refuses copies whose sub-selections merge into pairs, counted through inline fragments', async () => {
    const query = `{ ${copies(40, () => `tankLevel(tankId: "x") { ... on TankLevel { ${copies(40, () => 'litres')} } }`)} }`
    expect(await answer(query)).toEqual(refusedForPairs)
    expect(log.loud()).toEqual([])
  })

  it('answers a document whose fragments overlap as applications write them', async () => {
    const query =
      '{ tankLevel(tankId: "x") { ...Level ...Site litres } tankLevelList { nodes { ...Level ...Site } } } ' +
      'fragment Level on TankLevel { tankId litres } fragment Site on TankLevel { tankId site }'
    const { status, body } = await gateway.gql(query)
    expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined })
  })
})
