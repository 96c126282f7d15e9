// Issue 14, item 4: client mistakes answered with a code, never executed, never INTERNAL, no stack in the log.
import { parse } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { captureLog } from './fixtures/captured-log.ts'

const fill = 'mutation { fill(id: "ast", input: { site: "s", litres: 1 }) { revision } }'

async function post(gateway: RunningGateway, body: unknown) {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const json = (await response.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] }
  return {
    status: response.status,
    codes: json.errors?.map((error) => error.extensions.code),
    data: json.data,
  }
}

async function eventsOf(gateway: RunningGateway, stream: string): Promise<number> {
  let count = 0
  for await (const event of gateway.store.readStream(stream)) if (event) count++
  return count
}

/** `depth` list literals one in another, or objects when `object` is set, as an argument. */
function nested(depth: number, object = false): string {
  const [open, close] = object ? ['{ a: ', ' }'] : ['[', ']']
  return `{ tankLevel(tankId: ${open.repeat(depth)}1${close.repeat(depth)}) { litres } }`
}

describe('requests whose query is not a GraphQL document', () => {
  const log = captureLog()
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({ logger: log.logger })
  })
  afterAll(() => gateway.close())

  const ast = JSON.parse(JSON.stringify(parse(fill, { noLocation: true }))) as unknown
  const queries: [string, unknown][] = [
    ['"42"', '42'],
    ['"true"', 'true'],
    ['"{}"', '{}'],
    ['"[]"', '[]'],
    ['a syntax tree as JSON text', JSON.stringify(ast)],
    ['the number 42', 42],
    ['true', true],
    ['an object', {}],
    ['an array', []],
    ['a syntax tree object', ast],
    ['null', null],
  ]
  it.each(queries)('answers a query of %s with BAD_INPUT and runs nothing', async (_name, query) => {
    const reply = await post(gateway, { query })
    expect(reply).toEqual({ status: 400, codes: ['BAD_INPUT'], data: null })
    expect(await eventsOf(gateway, 'Tank-ast')).toBe(0)
    expect(log.loud()).toEqual([])
  })

  it('answers a subscription sent over HTTP with BAD_INPUT', async () => {
    const reply = await post(gateway, { query: 'subscription { tankLevelChanged(tankId: "x") { kind } }' })
    expect(reply).toEqual({ status: 400, codes: ['BAD_INPUT'], data: null })
    expect(log.loud()).toEqual([])
  })
})

describe('literals nested 100,000 deep', () => {
  const log = captureLog()
  let gateway: RunningGateway
  beforeAll(async () => {
    // Only the nesting limit left: the length and token limits would refuse such a document first.
    gateway = await startGateway({
      logger: log.logger,
      limits: { maxQueryLength: Infinity, maxTokens: Infinity },
    })
  })
  afterAll(() => gateway.close())

  it.each([
    ['lists', false],
    ['objects', true],
  ])('are refused for their nesting, before the parser, with LIMIT_EXCEEDED: %s', async (_name, object) => {
    const reply = await post(gateway, { query: nested(100_000, object) })
    expect(reply).toEqual({ status: 400, codes: ['LIMIT_EXCEEDED'], data: null })
    expect(log.loud()).toEqual([])
  })

  it('pass at a nesting within the limit, to be judged by validation', async () => {
    const reply = await post(gateway, { query: nested(10) })
    expect(reply).toEqual({ status: 400, codes: ['BAD_INPUT'], data: null })
  })
})
