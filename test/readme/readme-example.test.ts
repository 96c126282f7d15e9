// The README's opening example, extracted from README.md and run as it stands: if the README drifts, this fails.
import type { FastifyInstance } from 'fastify'
import { parse, print } from 'graphql'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { describeGraphQLDocuments } from '../docs/graphql-documents.fixture.ts'
import { markdownBlocks } from '../docs/markdown-blocks.fixture.ts'
import { connectClient, subscribe } from '../e2e/fixtures/subscribe-over-ws.ts'

const started = vi.hoisted(() => ({ servers: [] as FastifyInstance[] }))

// The example listens on port 4000 as a user would; here every server it creates listens on a free
// loopback port instead, without logs, so the test runs beside anything else on the machine.
vi.mock('annals', async (importOriginal) => {
  const annals = await importOriginal<typeof import('annals')>()
  const createServer: typeof annals.createServer = async (options) => {
    const server = await annals.createServer({ ...options, logger: false })
    const listen = server.listen.bind(server)
    Object.assign(server, {
      listen: (listenOptions: object) => listen({ ...listenOptions, port: 0, host: '127.0.0.1' }),
    })
    started.servers.push(server)
    return server
  }
  return { ...annals, createServer }
})

let endpoint = { url: '', wsUrl: '' }
beforeAll(async () => {
  await import('markdown:README.md/0.ts')
  const [server] = started.servers
  const address = server?.server.address()
  if (typeof address !== 'object' || !address) throw new Error("The README's example started no server")
  endpoint = {
    url: `http://127.0.0.1:${address.port}/graphql`,
    wsUrl: `ws://127.0.0.1:${address.port}/graphql`,
  }
})
afterAll(async () => {
  for (const server of started.servers) await server.close()
})

describeGraphQLDocuments('README.md', () => endpoint)

/** The README's operations, by their first field. */
function readmeOperation(field: string): string {
  for (const block of markdownBlocks('README.md', 'graphql'))
    for (const definition of parse(block.code).definitions) {
      const printed = print(definition)
      if (printed.includes(`${field}(`)) return printed
    }
  throw new Error(`The README shows no ${field} operation`)
}

it("sends the README's subscription the change its mutation makes, stamped with the mutation's token", async () => {
  const client = connectClient(endpoint.wsUrl)
  try {
    const feed = subscribe<{ counterChanged: { position: string; row: { value: number } | null } }>(
      client,
      readmeOperation('counterChanged').replace('"c1"', '"c2"'),
    )
    expect((await feed.take(1))[0]?.counterChanged.row).toBeNull()
    const written = await post(readmeOperation('increment').replace('"c1"', '"c2"'))
    const token = (written.data?.['increment'] as { token: string }).token
    const [change] = await feed.take(1)
    expect(change?.counterChanged).toEqual({ position: token, row: { value: 2 } })
    feed.close()
  } finally {
    await client.dispose()
  }
})

it("refuses a write past the README's rule with its domain code", async () => {
  const refused = await post('mutation { increment(id: "c3", input: { by: 101 }) { token } }')
  expect(refused.errors?.[0]?.extensions.code).toBe('COUNTER_FULL')
})

async function post(query: string) {
  const response = await fetch(endpoint.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  })
  return (await response.json()) as {
    data?: Record<string, unknown>
    errors?: { extensions: { code: string } }[]
  }
}
