/* eslint-disable @typescript-eslint/no-unsafe-member-access -- GraphQL replies are untyped JSON */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { connectClient, subscribe } from './fixtures/subscribe-over-ws.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

interface Change {
  tankLevelChanged: { kind: string; key: string; row: { litres: number } | null; position: string }
}
interface ListChange {
  tankLevelListChanged: { kind: string; key: string; row: { litres: number } | null; position: string }
}
interface EventFrame {
  tankEvents: { __typename: string; revision: string; position: string; data: { litres?: number } }
}

const fill = (id: string, litres: number) =>
  `mutation { fill(id: "${id}", input: { site: "s", litres: ${litres} }) { token } }`
const SLOW_QUERY = 'subscription { tankEvents(id: "slow") { ... on TankFilled { position data { site } } } }'
const rowQuery = `subscription($id: ID!, $after: String) {
  tankLevelChanged(tankId: $id, after: $after) { kind key row { litres } position }
}`

describe('GraphQL subscriptions', () => {
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({ limits: { subscriptionBuffer: 20 } })
  })
  afterAll(() => gateway.close())

  it('sends the current row first, then each change stamped with its position', async () => {
    await gateway.gql(fill('r1', 5))
    const client = connectClient(gateway.wsUrl)
    const changes = subscribe<Change>(client, rowQuery, { id: 'r1' })
    const [current] = await changes.take(1)
    expect(current?.tankLevelChanged).toMatchObject({ kind: 'CURRENT', key: 'r1', row: { litres: 5 } })
    const written = await gateway.gql(fill('r1', 2))
    const [update] = await changes.take(1)
    expect(update?.tankLevelChanged).toMatchObject({ kind: 'UPDATED', row: { litres: 7 } })
    expect(update?.tankLevelChanged.position).toBe(written.body.data?.['fill'].token)
    changes.close()
    await client.dispose()
  })

  it('resumes after a reconnect from the last position without a gap', async () => {
    await gateway.gql(fill('r2', 1))
    const first = connectClient(gateway.wsUrl)
    const before = subscribe<Change>(first, rowQuery, { id: 'r2' })
    const [current] = await before.take(1)
    await first.dispose()
    const missed: string[] = []
    for (const litres of [2, 3])
      missed.push((await gateway.gql(fill('r2', litres))).body.data?.['fill'].token as string)
    const second = connectClient(gateway.wsUrl)
    const after = subscribe<Change>(second, rowQuery, { id: 'r2', after: current?.tankLevelChanged.position })
    const resumed = await after.take(2)
    expect(resumed.map((frame) => frame.tankLevelChanged.position)).toEqual(missed)
    expect(resumed.map((frame) => frame.tankLevelChanged.row?.litres)).toEqual([3, 6])
    await gateway.gql(fill('r2', 4))
    const [live] = await after.take(1)
    expect(live?.tankLevelChanged.row?.litres).toBe(10)
    await second.dispose()
  })

  it('sends a filtered list: the matching rows now, then the matching changes', async () => {
    await gateway.gql(`mutation { fill(id: "l1", input: { site: "lake", litres: 1 }) { token } }`)
    const client = connectClient(gateway.wsUrl)
    const feed = subscribe<ListChange>(
      client,
      'subscription { tankLevelListChanged(where: { site: { eq: "lake" } }) { kind key row { litres } position } }',
    )
    expect((await feed.take(1))[0]?.tankLevelListChanged).toMatchObject({ kind: 'CURRENT', key: 'l1' })
    await gateway.gql(fill('elsewhere', 1))
    await gateway.gql(`mutation { fill(id: "l2", input: { site: "lake", litres: 3 }) { token } }`)
    expect((await feed.take(1))[0]?.tankLevelListChanged).toMatchObject({ kind: 'CREATED', key: 'l2' })
    await client.dispose()
  })

  it("streams an aggregate's events: its history, then each new one", async () => {
    await gateway.gql(fill('e1', 3))
    const client = connectClient(gateway.wsUrl)
    const feed = subscribe<EventFrame>(
      client,
      `subscription { tankEvents(id: "e1") {
        __typename
        ... on TankFilled { revision position data { litres } }
        ... on TankDrained { revision position data { litres } }
      } }`,
    )
    const [history] = await feed.take(1)
    expect(history?.tankEvents).toMatchObject({
      __typename: 'TankFilled',
      revision: '0',
      data: { litres: 3 },
    })
    await gateway.gql('mutation { drain(id: "e1", input: { litres: 1 }) { token } }')
    const [live] = await feed.take(1)
    expect(live?.tankEvents).toMatchObject({ __typename: 'TankDrained', revision: '1' })
    await client.dispose()
  })

  it('disconnects a client that stops reading once its buffer is full, with a clear reason', async () => {
    await gateway.gql(fill('slow', 1))
    const socket = new WebSocket(gateway.wsUrl, 'graphql-transport-ws')
    await new Promise((resolve) => socket.once('open', resolve))
    socket.send(JSON.stringify({ type: 'connection_init' }))
    await new Promise((resolve) => socket.once('message', resolve))
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SLOW_QUERY } }))
    await new Promise((resolve) => socket.once('message', resolve))
    // The client stops reading: the kernel buffers fill, then the server's bounded buffer.
    const raw = (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket
    raw.pause()
    const big = 'x'.repeat(64 * 1024)
    // Appends of 640 KiB: EventStoreDB (and the devstore) refuse an append over 1 MiB.
    for (let batch = 0; batch < 200; batch++) {
      const events = Array.from({ length: 10 }, () => ({
        id: randomUUID(),
        type: 'TankFilled',
        data: { site: big, litres: 1 },
      }))
      await gateway.store.appendToStream('Tank-slow', events)
      if ((await metricValue(gateway, 'annals_subscriptions_ended_total{reason="slow-consumer"}')) > 0) break
    }
    expect(await metricValue(gateway, 'annals_subscriptions_ended_total{reason="slow-consumer"}')).toBe(1)
    raw.resume()
    const { code, reason } = await closed
    expect(code).toBe(1008)
    expect(reason).toMatch(/Slow consumer: more than 20 messages were waiting/)
  })
})

async function metricValue(gateway: RunningGateway, series: string): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text()
  const line = text.split('\n').find((candidate) => candidate.startsWith(series))
  return line ? Number(line.split(' ').pop()) : 0
}
