// Issue 14, item 3: batches counted by their operations, Retry-After, WebSocket connections per address.
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { defaultLimits } from '../../framework/graphql/guards/gateway-limits.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'

const gateways: RunningGateway[] = []
const sockets: WebSocket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate()
  for (const gateway of gateways.splice(0)) await gateway.close()
})

const read = { query: '{ tankLevel(tankId: "t1") { litres } }' }

async function post(gateway: RunningGateway, body: unknown) {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const json = (await response.json()) as { errors?: { extensions: { code: string } }[] }
  return { status: response.status, retryAfter: response.headers.get('retry-after'), json }
}

/** Opens a graphql-ws connection; resolves with the upgrade's status (101 when it opened). */
function connect(gateway: RunningGateway): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(gateway.wsUrl, 'graphql-transport-ws')
    sockets.push(socket)
    socket.once('open', () => resolve(101))
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
    socket.once('error', reject)
  })
}

describe('the rate limit', () => {
  it('counts each operation of a batch, and answers 429 with Retry-After once the bucket is empty', async () => {
    const gateway = await startGateway({ limits: { rateLimit: { burst: 10, perSecond: 0.5 } } })
    gateways.push(gateway)
    const batch = await post(
      gateway,
      Array.from({ length: 10 }, () => read),
    )
    expect(batch.status).toBe(200)
    const next = await post(gateway, read)
    expect({ status: next.status, code: next.json.errors?.[0]?.extensions.code }).toEqual({
      status: 429,
      code: 'RATE_LIMITED',
    })
    // One operation regained at half an operation a second: two seconds, in whole seconds as HTTP says.
    expect(next.retryAfter).toBe('2')
  })

  it('refuses a batch larger than what is left, taking nothing from the bucket', async () => {
    const gateway = await startGateway({ limits: { rateLimit: { burst: 10, perSecond: 0.001 } } })
    gateways.push(gateway)
    expect(
      (
        await post(
          gateway,
          Array.from({ length: 6 }, () => read),
        )
      ).status,
    ).toBe(200)
    expect(
      (
        await post(
          gateway,
          Array.from({ length: 5 }, () => read),
        )
      ).status,
    ).toBe(429)
    expect(
      (
        await post(
          gateway,
          Array.from({ length: 4 }, () => read),
        )
      ).status,
    ).toBe(200)
  })
})

describe('WebSocket connections from one address', () => {
  it(`are bounded by default (${defaultLimits.maxConnectionsPerAddress}): one more is refused with 429`, async () => {
    const gateway = await startGateway()
    gateways.push(gateway)
    const opened = []
    for (let i = 0; i < defaultLimits.maxConnectionsPerAddress; i++) opened.push(await connect(gateway))
    expect(new Set(opened)).toEqual(new Set([101]))
    expect(await connect(gateway)).toBe(429)
  })

  it('take a new connection once one of them closes', async () => {
    const gateway = await startGateway({ limits: { maxConnectionsPerAddress: 2 } })
    gateways.push(gateway)
    expect([await connect(gateway), await connect(gateway), await connect(gateway)]).toEqual([101, 101, 429])
    const first = sockets[0]!
    const closed = new Promise((resolve) => first.once('close', resolve))
    first.close()
    await closed
    // The server counts the connection out when its side closes, after the client's close frame.
    await expect.poll(() => connect(gateway), { timeout: 5_000 }).toBe(101)
  })
})
