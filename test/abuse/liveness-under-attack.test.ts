// Issue 14, "must show": /health/live answers within 100 ms while any of the attacks runs. Each attack runs against
// a gateway in a child process of its own, from this process, for a few seconds at a bounded concurrency, while a
// third process probes /health/live one request after another; the attack's own replies are checked too, so a
// run in which the attack never reached its target cannot pass.
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { defaultLimits } from '../../framework/graphql/guards/gateway-limits.ts'
import type { GatewayOptions } from '../e2e/fixtures/start-gateway.ts'
import { startChildGateway, type ChildGateway } from './fixtures/child-gateway.ts'
import { probeLiveness } from './fixtures/health-probe.ts'

const attackMs = 3_000
const inFlight = 8

let gateway: ChildGateway | undefined
afterEach(async () => {
  await gateway?.close()
  gateway = undefined
})

/** What the attacker's requests were answered with: a status or an error code, counted. */
type Tally = Map<string, number>

/**
 * Runs `send` from `inFlight` loops until `attackMs` have passed, with /health/live probed throughout; resolves
 * with the tally of answers and what the probe measured.
 */
async function underAttack(options: GatewayOptions, send: (url: string) => Promise<string>) {
  gateway = await startChildGateway(options)
  const { url } = gateway
  const tally: Tally = new Map()
  const probe = await probeLiveness(url)
  const until = performance.now() + attackMs
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        const answer = await send(url)
        tally.set(answer, (tally.get(answer) ?? 0) + 1)
      }
    }),
  )
  const liveness = await probe.stop()
  return { tally, liveness }
}

/** POSTs a body to /graphql; answers with the first error code, or the status when there is none. */
async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const json = (await response.json().catch(() => ({}))) as { errors?: { extensions?: { code?: string } }[] }
  return json.errors?.[0]?.extensions?.code ?? String(response.status)
}

/** Opens a graphql-ws connection from `origin`; answers 101 when it opened, else the refusing status. */
function upgrade(url: string, origin?: string): Promise<{ status: string; socket?: WebSocket }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(
      `${url.replace('http', 'ws')}/graphql`,
      'graphql-transport-ws',
      origin ? { origin } : {},
    )
    socket.once('open', () => resolve({ status: '101', socket }))
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: String(response.statusCode) })
      socket.terminate()
    })
    socket.once('error', () => resolve({ status: 'error' }))
  })
}

const expectLive = (liveness: { probes: number; p99Ms: number; slowestMs: number }) => {
  expect(liveness.probes, 'probes answered during the attack').toBeGreaterThan(50)
  expect(liveness, `/health/live over ${liveness.probes} probes`).toMatchObject({
    p99Ms: expect.toSatisfy((ms: number) => ms <= 100) as unknown,
  })
}

const read = { query: '{ tankLevel(tankId: "t1") { litres } }' }

describe('/health/live under attack (abuse)', () => {
  it('answers within 100 ms while one address floods the rate limit with batches', async () => {
    const batch = Array.from({ length: 10 }, () => read)
    const { tally, liveness } = await underAttack({ limits: defaultLimits }, (url) => post(url, batch))
    // The bucket lets the first burst through; the rest of the flood is refused.
    expect(tally.get('RATE_LIMITED') ?? 0).toBeGreaterThan(100)
    expectLive(liveness)
  }, 30_000)

  it('answers within 100 ms while malformed bodies, non-documents and deep literals arrive', async () => {
    const bodies = [
      '{"query": ',
      '[[[[[[[[[[',
      { query: 42 },
      { query: '{}' },
      { query: { kind: 'Document', definitions: [] } },
      { query: `{ tankLevel(tankId: ${'['.repeat(50_000)}1${']'.repeat(50_000)}) { litres } }` },
      { query: 'subscription { tankLevelChanged(tankId: "x") { kind } }' },
      {
        query: `mutation { fill(id: "${'x'.repeat(65_535)}", input: { site: "s", litres: 1 }) { revision } }`,
      },
    ]
    let next = 0
    const { tally, liveness } = await underAttack({}, (url) => post(url, bodies[next++ % bodies.length]))
    expect([...tally.keys()].sort()).toEqual(['BAD_INPUT', 'LIMIT_EXCEEDED'])
    expectLive(liveness)
  }, 30_000)

  it('answers within 100 ms while documents ask validation for quadratic work', async () => {
    // A document of its own each time, so that no cache of validated documents spares the work.
    let next = 0
    const copies = (tag: number) =>
      Array.from({ length: 300 }, () => `tankLevel(tankId: "${tag}") { litres }`).join(' ')
    const { tally, liveness } = await underAttack({}, (url) => post(url, { query: `{ ${copies(next++)} }` }))
    expect([...tally.keys()]).toEqual(['LIMIT_EXCEEDED'])
    expectLive(liveness)
  }, 30_000)

  it('answers within 100 ms while one address opens WebSockets beyond its bound, and foreign pages try to', async () => {
    const held: WebSocket[] = []
    let turn = 0
    const { tally, liveness } = await underAttack({ limits: defaultLimits }, async (url) => {
      const { status, socket } = await upgrade(url, turn++ % 2 === 0 ? undefined : 'https://evil.example')
      if (socket) held.push(socket)
      return status
    })
    for (const socket of held) socket.terminate()
    expect(held).toHaveLength(defaultLimits.maxConnectionsPerAddress)
    expect(tally.get('403') ?? 0).toBeGreaterThan(100)
    expect(tally.get('429') ?? 0).toBeGreaterThan(100)
    expectLive(liveness)
  }, 30_000)

  it('answers within 100 ms while batches of reads wait for tokens far beyond the head of the log', async () => {
    let beyond: Promise<string> | undefined
    const tokenBeyondHead = async (url: string) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation { fill(id: "t1", input: { site: "s", litres: 1 }) { token } }',
        }),
      })
      const { data } = (await response.json()) as { data: { fill: { token: string } } }
      return String(BigInt(data.fill.token) + 1_000_000_000n)
    }
    const reads = `query($token: String) { ${Array.from(
      { length: 30 },
      (_, i) => `r${i}: tankLevel(tankId: "t1", consistentWith: $token) { litres }`,
    ).join(' ')} }`
    // The rate limit lets the whole flood in: what is measured is the refusal, not the limiter.
    const options = { limits: { ...defaultLimits, rateLimit: { burst: 1_000_000, perSecond: 1_000_000 } } }
    const { tally, liveness } = await underAttack(options, async (url) => {
      const token = await (beyond ??= tokenBeyondHead(url))
      const batch = Array.from({ length: 10 }, () => ({ query: reads, variables: { token } }))
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      })
      const replies = (await response.json()) as { errors?: { extensions: { code: string } }[] }[]
      return replies[0]?.errors?.[0]?.extensions.code ?? String(response.status)
    })
    expect([...tally.keys()]).toEqual(['TOKEN_BEYOND_HEAD'])
    expect(tally.get('TOKEN_BEYOND_HEAD')).toBeGreaterThan(100)
    expectLive(liveness)
  }, 30_000)

  it('answers within 100 ms while bad ids and reused command ids are written', async () => {
    const ids = ['', 'tank\u0000', 'tank\u202egnp.exe', '\ud800X', 'x'.repeat(201)]
    const mutation =
      'mutation($id: ID!, $litres: Int!) { fill(id: $id, commandId: "reused", input: { site: "s", litres: $litres }) { revision } }'
    let next = 0
    const { tally, liveness } = await underAttack({}, (url) => {
      const n = next++
      return n % 2 === 0
        ? post(url, { query: mutation, variables: { id: ids[n % ids.length], litres: 1 } })
        : post(url, { query: mutation, variables: { id: 'victim', litres: n } })
    })
    expect(tally.get('BAD_INPUT') ?? 0).toBeGreaterThan(100)
    expect(tally.get('COMMAND_ID_REUSED') ?? 0).toBeGreaterThan(100)
    expectLive(liveness)
  }, 30_000)
})
