import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'graphql-ws'
import WebSocket from 'ws'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'

const allowed = 'https://console.example.com'
const foreign = 'https://evil.example'

/** Opens a WebSocket with the given Origin: the status of the refused upgrade, or 101 when it opened. */
function upgradeStatus(url: string, origin: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', origin === undefined ? {} : { origin })
    socket.once('open', () => {
      socket.close()
      resolve(101)
    })
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      socket.terminate()
    })
    socket.once('error', reject)
  })
}

/** Runs a mutation over graphql-ws as a page of `origin` would: its result, or the error that ended it. */
function mutateOverWs(url: string, origin: string, query: string): Promise<unknown> {
  class BrowserSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { origin })
    }
  }
  const client = createClient({ url, webSocketImpl: BrowserSocket, retryAttempts: 0, lazy: true })
  return new Promise<unknown>((resolve) => {
    client.subscribe(
      { query },
      { next: resolve, error: (error) => resolve({ failed: error }), complete: () => {} },
    )
  }).finally(() => client.dispose())
}

describe('cross-site requests (abuse)', () => {
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({ allowedOrigins: [allowed] })
  })
  afterAll(() => gateway.close())

  it('refuses a WebSocket upgrade from a foreign Origin with 403', async () => {
    expect(await upgradeStatus(gateway.wsUrl, foreign)).toBe(403)
  })

  it('runs no mutation sent over WebSocket by a foreign page', async () => {
    const reply = await mutateOverWs(
      gateway.wsUrl,
      foreign,
      'mutation { fill(id: "ws-evil", input: { site: "s", litres: 1 }) { revision } }',
    )
    expect(reply).toHaveProperty('failed')
    const { body } = await gateway.gql(
      'mutation { fill(id: "ws-evil", input: { site: "s", litres: 1 }) { revision } }',
    )
    expect(body.data?.['fill']).toEqual({ revision: '0' })
  })

  it('accepts an upgrade from an allowed origin, from the same origin, and from a program without Origin', async () => {
    expect(await upgradeStatus(gateway.wsUrl, allowed)).toBe(101)
    expect(await upgradeStatus(gateway.wsUrl, gateway.url)).toBe(101)
    expect(await upgradeStatus(gateway.wsUrl, undefined)).toBe(101)
  })

  it('runs a mutation over WebSocket from an allowed origin', async () => {
    const reply = await mutateOverWs(
      gateway.wsUrl,
      allowed,
      'mutation { fill(id: "ws-ok", input: { site: "s", litres: 1 }) { revision } }',
    )
    expect(reply).toEqual({ data: { fill: { revision: '0' } } })
  })

  it('answers a CORS preflight from an allowed origin, and not one from a foreign origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${gateway.url}/graphql`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      })
    const ok = await preflight(allowed)
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed)
    expect(ok.headers.get('access-control-allow-headers')).toContain('content-type')
    const refused = await preflight(foreign)
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('cross-site requests with no origin configured (abuse)', () => {
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway()
  })
  afterAll(() => gateway.close())

  it('refuses every foreign Origin on the upgrade and sends no CORS headers', async () => {
    expect(await upgradeStatus(gateway.wsUrl, foreign)).toBe(403)
    expect(await upgradeStatus(gateway.wsUrl, 'http://localhost:1')).toBe(403)
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: foreign, 'access-control-request-method': 'POST' },
    })
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })
})
