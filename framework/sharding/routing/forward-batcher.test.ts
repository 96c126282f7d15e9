import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { WireBatch, WireBatchLine, WireResult } from '../wire/command-wire.ts'
import { createForwardBatcher, type ForwardBatcherOptions } from './forward-batcher.ts'
import { createPeerClient, NDJSON, PeerUnreachableError } from '../wire/peer-client.ts'

/** A stand-in owner on loopback: it records each batch and lets the test answer it. */
interface Owner {
  readonly url: string
  readonly batches: WireBatch[]
  /** How many batch requests are open now, and the most ever open at once. */
  readonly open: { now: number; most: number }
  close(): Promise<void>
}

type Answer = (batch: WireBatch, res: ServerResponse) => void

const closers: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function startOwner(answer: Answer): Promise<Owner> {
  const batches: WireBatch[] = []
  const open = { now: 0, most: 0 }
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireBatch
      batches.push(batch)
      open.most = Math.max(open.most, ++open.now)
      res.on('close', () => open.now--)
      answer(batch, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const owner = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    batches,
    open,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  closers.push(owner.close)
  return owner
}

function startBatcher(overrides: Partial<ForwardBatcherOptions> = {}) {
  const client = createPeerClient({ secret: undefined })
  const leaving: string[] = []
  const batcher = createForwardBatcher({
    self: 'http://127.0.0.1:1',
    client,
    path: '/batch',
    timeoutMs: 2000,
    onLeaving: (owner) => leaving.push(owner),
    ...overrides,
  })
  closers.push(() => {
    batcher.close()
    client.close()
  })
  return { batcher, leaving }
}

const envelope = (i: number) => ({
  aggregate: 'Counter',
  command: 'increment',
  aggregateId: `c-${i}`,
  input: { by: 1 },
  commandId: `cmd-${i}`,
})

const ok = (i: number, commandId: string): WireBatchLine => {
  const result: WireResult = { aggregateId: `c-${i}`, commandId, revision: '0', position: '7', events: [] }
  return { i, ok: result }
}

/** Answers every command of a batch with its result, all at once. */
const answerAll: Answer = (batch, res) => {
  res.writeHead(200, { 'content-type': NDJSON })
  res.end(batch.commands.map((c, i) => `${JSON.stringify(ok(i, c.commandId))}\n`).join(''))
}

describe('forward batcher', () => {
  it('sends a lone command at once and resolves it with its result', async () => {
    const owner = await startOwner(answerAll)
    const { batcher } = startBatcher()
    const result = await batcher.forward(owner.url, envelope(1))
    expect(result).toMatchObject({ commandId: 'cmd-1', revision: 0n, position: 7n })
    expect(owner.batches.map((b) => b.commands.length)).toEqual([1])
  })

  it('sends the commands of one turn together, at most maxBatch in a request', async () => {
    const owner = await startOwner(answerAll)
    const { batcher } = startBatcher({ maxBatch: 10, maxInFlight: 8 })
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => batcher.forward(owner.url, envelope(i))),
    )
    expect(results.map((r) => r.commandId)).toEqual(Array.from({ length: 25 }, (_, i) => `cmd-${i}`))
    expect(owner.batches.map((b) => b.commands.length)).toEqual([10, 10, 5])
    expect(owner.batches[0]!.from).toBe('http://127.0.0.1:1')
  })

  it('keeps at most maxInFlight requests open to an owner and queues the rest into the next', async () => {
    const held: (() => void)[] = []
    const owner = await startOwner((batch, res) => held.push(() => answerAll(batch, res)))
    const { batcher } = startBatcher({ maxBatch: 2, maxInFlight: 2 })
    const all = Promise.all(Array.from({ length: 9 }, (_, i) => batcher.forward(owner.url, envelope(i))))
    while (owner.batches.length < 2) await new Promise((resolve) => setImmediate(resolve))
    for (let answered = 0; answered < 5; answered++) {
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve))
      held.shift()!()
    }
    await all
    expect(owner.open.most).toBe(2)
    expect(owner.batches.map((b) => b.commands.length)).toEqual([2, 2, 2, 2, 1])
  })

  it('resolves each command as its line arrives, in any order, and rejects each error on its own', async () => {
    const owner = await startOwner((batch, res) => {
      res.writeHead(200, { 'content-type': NDJSON })
      res.write(
        `${JSON.stringify({ i: 2, error: { code: 'REFUSED', message: 'no', details: { why: 'x' } } })}\n`,
      )
      // The first line arrives while the others are still to come: the first command settles now.
      res.write(`${JSON.stringify(ok(0, batch.commands[0]!.commandId))}\n`)
      setTimeout(() => res.end(`${JSON.stringify(ok(1, batch.commands[1]!.commandId))}\n`), 20)
    })
    const { batcher } = startBatcher()
    const settled = await Promise.allSettled([0, 1, 2].map((i) => batcher.forward(owner.url, envelope(i))))
    expect(settled[0]).toMatchObject({ status: 'fulfilled', value: { commandId: 'cmd-0' } })
    expect(settled[1]).toMatchObject({ status: 'fulfilled', value: { commandId: 'cmd-1' } })
    expect(settled[2]).toMatchObject({
      status: 'rejected',
      reason: { code: 'REFUSED', details: { why: 'x' } },
    })
  })

  it('rejects a command the answer leaves out as unreachable, so the router sends it again', async () => {
    const owner = await startOwner((batch, res) => {
      res.writeHead(200, { 'content-type': NDJSON })
      res.end(`${JSON.stringify(ok(0, batch.commands[0]!.commandId))}\n`)
    })
    const { batcher } = startBatcher()
    const [first, second] = await Promise.allSettled(
      [0, 1].map((i) => batcher.forward(owner.url, envelope(i))),
    )
    expect(first).toMatchObject({ status: 'fulfilled' })
    expect(second?.status === 'rejected' && second.reason instanceof PeerUnreachableError).toBe(true)
  })

  it('rejects every command of a batch as unreachable and reports the owner when it is leaving', async () => {
    const owner = await startOwner((_batch, res) => {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ code: 'OWNER_UNAVAILABLE', message: 'leaving', retry: true }))
    })
    const { batcher, leaving } = startBatcher()
    const settled = await Promise.allSettled([0, 1].map((i) => batcher.forward(owner.url, envelope(i))))
    expect(settled.map((s) => s.status === 'rejected' && s.reason instanceof PeerUnreachableError)).toEqual([
      true,
      true,
    ])
    expect(leaving).toContain(owner.url)
  })

  it('rejects a command with no answer within the forward timeout', async () => {
    const owner = await startOwner(() => undefined)
    const { batcher } = startBatcher({ timeoutMs: 100 })
    await expect(batcher.forward(owner.url, envelope(1))).rejects.toThrow(/no answer within 100 ms/)
  })

  it('fails the commands in flight to and queued for an owner that left the ring', async () => {
    const owner = await startOwner(() => undefined)
    const { batcher } = startBatcher({ maxInFlight: 1, maxBatch: 1 })
    const forwards = [0, 1, 2].map((i) => batcher.forward(owner.url, envelope(i)))
    while (owner.batches.length < 1) await new Promise((resolve) => setImmediate(resolve))
    batcher.keepOnly([])
    const settled = await Promise.allSettled(forwards)
    expect(settled.every((s) => s.status === 'rejected' && s.reason instanceof PeerUnreachableError)).toBe(
      true,
    )
    expect(owner.batches).toHaveLength(1)
  })

  it('rejects every command of a batch as unreachable when the owner dies mid-answer', async () => {
    const owner: Owner = await startOwner((batch, res) => {
      res.writeHead(200, { 'content-type': NDJSON })
      res.write(`${JSON.stringify(ok(0, batch.commands[0]!.commandId))}\n`, () => void owner.close())
    })
    const { batcher } = startBatcher()
    const settled = await Promise.allSettled([0, 1, 2].map((i) => batcher.forward(owner.url, envelope(i))))
    expect(settled[0]).toMatchObject({ status: 'fulfilled' })
    expect(
      settled.slice(1).every((s) => s.status === 'rejected' && s.reason instanceof PeerUnreachableError),
    ).toBe(true)
  })
})
