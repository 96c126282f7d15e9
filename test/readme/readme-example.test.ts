// The README's opening example, verbatim, run end to end: if the README's API drifts, this fails.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { z } from 'zod'
import { DomainError, createServer, defineAggregate } from 'annals'
import { createReadSide, defineProjection } from 'annals/projections'
import { connectClient, subscribe } from '../e2e/fixtures/subscribe-over-ws.ts'

const Counter = defineAggregate({
  name: 'Counter',
  state: z.object({ value: z.number() }),
  initialState: { value: 0 },
  events: { Incremented: z.object({ by: z.number() }) },
  commands: {
    increment: {
      input: z.object({ by: z.number().int().positive() }),
      decide: (state, { by }) => {
        if (state.value + by > 100) throw new DomainError('COUNTER_FULL', 'A counter stops at 100')
        return { type: 'Incremented', data: { by } }
      },
    },
  },
  evolve: { Incremented: (state, { by }) => ({ value: state.value + by }) },
})

const counter = defineProjection({
  name: 'counter',
  row: z.object({ id: z.string(), value: z.number() }),
  key: 'id',
  from: [Counter],
  handlers: {
    Incremented: (row, event, { aggregateId }) => ({
      id: aggregateId,
      value: (row?.value ?? 0) + event.data.by,
    }),
  },
})

let app: Awaited<ReturnType<typeof createServer>>
let url: string
beforeAll(async () => {
  app = await createServer({
    aggregates: [Counter],
    readSide: createReadSide({ projections: [counter] }),
    logger: false,
    env: { NODE_ENV: 'test' },
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  url = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`
})
afterAll(() => app.close())

interface Reply {
  data?: { increment?: { revision: string; token: string }; counter?: { value: number } }
  errors?: { extensions: { code: string } }[]
}

async function run(query: string): Promise<Reply> {
  const response = await fetch(`http://${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  })
  return (await response.json()) as never
}

it('answers the mutation, query and subscription the README shows', async () => {
  const client = connectClient(`ws://${url}`)
  const feed = subscribe<{ counterChanged: { position: string; row: { value: number } | null } }>(
    client,
    'subscription { counterChanged(id: "c1") { position row { value } } }',
  )
  expect((await feed.take(1))[0]?.counterChanged.row).toBeNull()

  const written = await run('mutation { increment(id: "c1", input: { by: 2 }) { revision token } }')
  expect(written.data?.increment).toMatchObject({ revision: '0' })
  const token = written.data?.increment?.token ?? ''

  const read = await run(`query { counter(id: "c1", consistentWith: "${token}") { value } }`)
  expect(read.data?.counter).toEqual({ value: 2 })
  const [change] = await feed.take(1)
  expect(change?.counterChanged).toEqual({ position: token, row: { value: 2 } })

  const refused = await run('mutation { increment(id: "c1", input: { by: 99 }) { token } }')
  expect(refused.errors?.[0]?.extensions.code).toBe('COUNTER_FULL')
  feed.close()
  await client.dispose()
})
