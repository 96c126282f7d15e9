import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createInMemoryEventStore, type EventStore } from 'annals'
import { LATENCY_LIMIT_FLOOR } from '../../framework/command/latency-limit.ts'
import { startGateway, type GraphQLReply, type RunningGateway } from './fixtures/start-gateway.ts'

const fill = (id: string) => `mutation { fill(id: "${id}", input: { site: "s", litres: 1 }) { revision } }`

/** A store whose appends wait until released: commands pile up in their mailboxes meanwhile. */
function gatedAppends() {
  let release: () => void = () => undefined
  const gate = new Promise<void>((resolve) => (release = resolve))
  const wrap = (store: EventStore): EventStore => ({
    ...store,
    appendToStream: async (...args) => {
      await gate
      return store.appendToStream(...args)
    },
  })
  return { wrap, release: () => release() }
}

/** POSTs a malformed body to /graphql with the request target in absolute form (`POST http://host/graphql`). */
function absoluteFormPost(base: string): Promise<number> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const call = request(
      {
        host: hostname,
        port,
        method: 'POST',
        path: `${base}/graphql`,
        headers: { 'content-type': 'application/json' },
      },
      (response) => {
        response.resume()
        resolve(response.statusCode ?? 0)
      },
    )
    call.on('error', reject)
    call.end('{')
  })
}

async function metric(gateway: RunningGateway, line: string): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text()
  const found = text.split('\n').find((entry) => entry.startsWith(`${line} `))
  return Number(found?.split(' ')[1] ?? Number.NaN)
}

/** Sends the mutations at once and resolves once the server holds `queued` of them. */
async function flood(gateway: RunningGateway, ids: readonly string[], queued: number) {
  const replies = ids.map((id) =>
    fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: fill(id) }),
    }),
  )
  await expect.poll(() => metric(gateway, 'annals_queued_commands')).toBe(queued)
  return replies
}

const codeOf = async (reply: Response) =>
  ((await reply.clone().json()) as GraphQLReply['body']).errors?.[0]?.extensions.code

describe('load shedding', () => {
  let gateway: RunningGateway | undefined
  let store: ReturnType<typeof gatedAppends> | undefined
  afterEach(async () => {
    // A failed assertion must not leave the server's close waiting on a held append.
    store?.release()
    await gateway?.close()
    gateway = undefined
  })

  it('refuses commands beyond the per-aggregate bound at once with OVERLOADED, 503 and Retry-After, while the queued ones complete', async () => {
    store = gatedAppends()
    gateway = await startGateway({
      wrapStore: store.wrap,
      commands: { maxQueuedPerAggregate: 4 },
      limits: { rateLimit: false },
    })
    const accepted = await flood(gateway, ['hot', 'hot', 'hot', 'hot'], 4)
    // Answered while the queued ones still wait on the store: a refusal does not queue behind them.
    const refused = await Promise.all(Array.from({ length: 12 }, () => gateway!.gql(fill('hot'))))
    expect(refused.map((reply) => [reply.status, reply.body.errors?.[0]?.extensions.code])).toEqual(
      Array.from({ length: 12 }, () => [503, 'OVERLOADED']),
    )
    const headers = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: fill('hot') }),
    })
    expect([headers.status, headers.headers.get('retry-after')]).toEqual([503, '1'])
    // Another aggregate is not held up by the hot one's bound.
    const other = gateway.gql(fill('cold'))
    await expect.poll(() => metric(gateway!, 'annals_queued_commands')).toBe(5)
    store.release()
    const answers = await Promise.all(accepted)
    expect(answers.map((reply) => reply.status)).toEqual([200, 200, 200, 200])
    expect(await Promise.all(answers.map(codeOf))).toEqual([undefined, undefined, undefined, undefined])
    expect((await other).status).toBe(200)
    expect(await metric(gateway, 'annals_overloaded_commands')).toBe(13)
    expect(
      await metric(gateway, 'annals_commands_total{aggregate="Tank",command="fill",outcome="OVERLOADED"}'),
    ).toBe(13)
  })

  it('refuses commands beyond the replica-wide bound, whatever their aggregate', async () => {
    store = gatedAppends()
    gateway = await startGateway({
      wrapStore: store.wrap,
      commands: { maxQueuedCommands: 6 },
      limits: { rateLimit: false },
    })
    const ids = Array.from({ length: 6 }, (_, index) => `tank-${index}`)
    const accepted = await flood(gateway, ids, 6)
    const refused = await Promise.all(
      Array.from({ length: 10 }, (_, index) => gateway!.gql(fill(`other-${index}`))),
    )
    expect(refused.map((reply) => [reply.status, reply.body.errors?.[0]?.extensions.code])).toEqual(
      Array.from({ length: 10 }, () => [503, 'OVERLOADED']),
    )
    store.release()
    const answers = await Promise.all(accepted)
    expect(answers.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200, 200])
    // Once the queue drained, commands are taken again.
    expect((await gateway.gql(fill('other-0'))).status).toBe(200)
  })

  it('outside tests, refuses commands past the latency limit with OVERLOADED once appends wait past the target, and shows the limit', async () => {
    let gate = gatedAppends()
    let held = gate
    const wrapped = (inner: EventStore): EventStore => ({
      ...inner,
      appendToStream: (...args) => held.wrap(inner).appendToStream(...args),
    })
    // No latencyTargetMs given: the default of a service outside NODE_ENV=test.
    gateway = await startGateway({
      wrapStore: wrapped,
      env: { NODE_ENV: 'development' },
      limits: { rateLimit: false },
    })
    expect(await metric(gateway, 'annals_admitted_commands_limit')).toBe(5000)
    const first = await flood(
      gateway,
      Array.from({ length: 30 }, (_, index) => `slow-${index}`),
      30,
    )
    // Each of them waits far longer than the target before its append goes through.
    await new Promise((resolve) => setTimeout(resolve, 250))
    gate.release()
    expect((await Promise.all(first)).map((reply) => reply.status)).toEqual(Array(30).fill(200))
    expect(await metric(gateway, 'annals_admitted_commands_limit')).toBe(LATENCY_LIMIT_FLOOR)

    gate = gatedAppends()
    held = gate
    store = gate
    const admitted = await flood(
      gateway,
      Array.from({ length: LATENCY_LIMIT_FLOOR }, (_, index) => `next-${index}`),
      LATENCY_LIMIT_FLOOR,
    )
    const refused = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: fill('one-more') }),
    })
    expect([refused.status, refused.headers.get('retry-after'), await codeOf(refused)]).toEqual([
      503,
      '1',
      'OVERLOADED',
    ])
    gate.release()
    expect((await Promise.all(admitted)).map((reply) => reply.status)).toEqual(
      Array(LATENCY_LIMIT_FLOOR).fill(200),
    )
  })

  it('refuses GraphQL requests with OVERLOADED while the event loop lags past its bound, and still serves /metrics', async () => {
    gateway = await startGateway({ maxEventLoopDelayMs: 20, limits: { rateLimit: false } })
    const url = gateway.url
    // The server shares this process: a synchronous stretch of work is a saturated event loop.
    const saturatedThen = async (send: () => Promise<Response>) => {
      const until = performance.now() + 300
      while (performance.now() < until);
      return send()
    }
    const post = () =>
      fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: fill('busy') }),
      })
    // Shedding follows the loop's delay as sampled every 100 ms: a request may fall before the sample that saw
    // the stall, so the first refusal is the one asserted on.
    let refused: Response | undefined
    await expect
      .poll(
        async () => {
          const reply = await saturatedThen(post)
          if (reply.status === 503) refused = reply
          return reply.status
        },
        { timeout: 15_000 },
      )
      .toBe(503)
    expect([refused!.status, refused!.headers.get('retry-after'), await codeOf(refused!)]).toEqual([
      503,
      '1',
      'OVERLOADED',
    ])
    expect((await saturatedThen(() => fetch(`${url}/metrics`))).status).toBe(200)
    // Once the loop keeps up again, commands are taken.
    await expect.poll(async () => (await post()).status, { timeout: 15_000 }).toBe(200)
    expect(await metric(gateway, 'annals_requests_shed_total')).toBeGreaterThanOrEqual(2)
  })
  it('refuses a growing share of GraphQL requests with OVERLOADED while the event loop is busier than its bound, before parsing them, however the URL is spelled, over HTTP and WebSocket, and takes them all again once it is not', async () => {
    const origin = 'https://app.example'
    gateway = await startGateway({
      env: { NODE_ENV: 'test', ANNALS_MAX_EVENT_LOOP_UTILIZATION: '0.5' },
      allowedOrigins: [origin],
      limits: { rateLimit: false },
    })
    const url = gateway.url
    // Not JSON: a request that got as far as its body would be answered 400, not shed.
    const post = (path = '/graphql') =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: '{',
      })
    const connect = () =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(gateway!.wsUrl, 'graphql-transport-ws', { origin })
        socket.once('open', () => {
          socket.close()
          resolve(101)
        })
        socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
        socket.once('error', reject)
      })
    /** Sends until one is refused; returns that refusal. */
    const refusedOne = async <T>(send: () => Promise<T>, status: (answer: T) => number) => {
      let refused: T | undefined
      await expect
        .poll(
          async () => {
            const answer = await send()
            if (status(answer) === 503) refused = answer
            return status(answer)
          },
          { timeout: 15_000, interval: 20 },
        )
        .toBe(503)
      return refused!
    }
    const statusOf = (reply: Response) => reply.status
    // The server shares this process: 90 ms of every 100 spent here is a loop busy 90% of its time.
    const busy = setInterval(() => {
      const until = performance.now() + 90
      while (performance.now() < until);
    }, 100)
    try {
      const refused = await refusedOne(() => post(), statusOf)
      expect([
        refused.status,
        refused.headers.get('retry-after'),
        refused.headers.get('access-control-allow-origin'),
        await codeOf(refused),
      ]).toEqual([503, '1', origin, 'OVERLOADED'])
      // The same route, however its URL is written: encoded, or in absolute form.
      expect((await refusedOne(() => post('/%67raphql'), statusOf)).status).toBe(503)
      expect(
        await refusedOne(
          () => absoluteFormPost(url),
          (status) => status,
        ),
      ).toBe(503)
      // A query sent as a GET (with the header that lets a GET past the gateway's CSRF check).
      const get = () =>
        fetch(`${url}/graphql?query=%7B__typename%7D`, { headers: { 'graphql-require-preflight': '1' } })
      expect((await refusedOne(get, statusOf)).status).toBe(503)
      // A new WebSocket connection.
      expect(await refusedOne(connect, (status) => status)).toBe(503)
      // Never health, metrics, nor a CORS preflight, however many are sent while the share is at its most.
      const others = await Promise.all(
        Array.from({ length: 10 }, () => [
          fetch(`${url}/metrics`),
          fetch(`${url}/health/live`),
          fetch(`${url}/graphql`, {
            method: 'OPTIONS',
            headers: { origin, 'access-control-request-method': 'POST' },
          }),
        ]).flat(),
      )
      expect(others.map((reply) => reply.status)).not.toContain(503)
    } finally {
      clearInterval(busy)
    }
    expect(await metric(gateway, 'annals_requests_shed_total')).toBeGreaterThanOrEqual(5)
    // Idle again, the share falls a tenth per 100 ms: within a second every request is read, and this one is
    // answered for what it is.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const replies = await Promise.all(Array.from({ length: 20 }, () => post()))
    expect(replies.map((reply) => reply.status)).toEqual(Array(20).fill(400))
  })

  it('refuses to start with a utilization bound that could never be passed, or would refuse an idle replica', async () => {
    for (const bound of [1, 0.2]) {
      // A store of the test's own: the fixture closes only a store it started, and this server never starts.
      const store = createInMemoryEventStore()
      await expect(startGateway({ store, maxEventLoopUtilization: bound })).rejects.toMatchObject({
        code: 'BAD_CONFIG',
      })
      await store.close()
    }
  })
})
