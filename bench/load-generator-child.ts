// The load generator in its own process (forked by forkLoadGenerator, bench/load-generator.ts), so the clients
// of a bench never share an event loop or a core's time slices with the server they measure. It answers each
// request by id: HTTP rounds, and WebSocket clients opened, counted and closed. Stops when the parent goes.
import WebSocket from 'ws'
import type { GeneratorReply, GeneratorRequest, HttpRound, SocketGroup } from './load-generator.ts'

const OPEN_BATCH = 100
const TIMEOUT_MS = 60_000

interface Counter {
  received: number
  frames?: string[]
  wake?: () => void
}

const sockets: WebSocket[] = []
const counters: Counter[] = []
/** Per group, the frames its first client received since the last `untilEach`, to replay bare. */
let recorded: string[][] = []

process.on('message', (request: GeneratorRequest) => {
  handle(request).then(
    (result) => send({ id: request.id, ok: true, result }),
    (error: unknown) => send({ id: request.id, ok: false, error: String(error) }),
  )
})
process.once('disconnect', () => process.exit(0))

function send(reply: GeneratorReply): void {
  process.send?.(reply)
}

async function handle(request: GeneratorRequest): Promise<unknown> {
  switch (request.kind) {
    case 'http':
      return httpRound(request.round)
    case 'open':
      return openGroups(request.groups)
    case 'untilEach':
      await Promise.all(counters.map((counter) => until(counter, request.count)))
      for (const counter of counters) counter.received -= request.count
      return recorded.map((frames) => frames.splice(0))
    case 'closeSockets':
      for (const socket of sockets.splice(0)) socket.terminate()
      counters.length = 0
      recorded = []
      return null
  }
}

/** `concurrency` loops sending the request until the round's time is up; requests per second and the count. */
async function httpRound(round: HttpRound): Promise<{ perSecond: number; requests: number }> {
  const until = performance.now() + round.durationMs
  let requests = 0
  const started = performance.now()
  const interval = round.ratePerSecond === undefined ? 0 : 1000 / round.ratePerSecond
  let slot = 0
  await Promise.all(
    Array.from({ length: round.concurrency }, async (_, worker) => {
      const body = round.body?.replaceAll('$WORKER', String(worker))
      while (performance.now() < until) {
        if (interval > 0) {
          // The next request's time on the round's schedule: a late loop catches up, an early one waits.
          const at = started + slot++ * interval
          const wait = at - performance.now()
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
          if (performance.now() >= until) break
        }
        const reply = await fetch(round.url, {
          method: round.method ?? 'GET',
          headers: round.headers ?? {},
          ...(body === undefined ? {} : { body }),
        })
        if (reply.status !== 200) throw new Error(`${round.url} answered ${reply.status}`)
        await reply.arrayBuffer()
        requests++
      }
    }),
  )
  return { perSecond: requests / ((performance.now() - started) / 1000), requests }
}

/**
 * Opens each group's clients, OPEN_BATCH at a time; a graphql-transport-ws group initialises and subscribes
 * each, waiting for its first frame (the current result). Counting starts from there.
 */
async function openGroups(groups: readonly SocketGroup[]): Promise<null> {
  for (const [group, { url, subscribe, count }] of groups.entries()) {
    recorded[group] = []
    for (let batch = 0; batch < count; batch += OPEN_BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(OPEN_BATCH, count - batch) }, async (_, offset) => {
          const socket = new WebSocket(url, subscribe === undefined ? undefined : 'graphql-transport-ws')
          const counter: Counter = {
            received: 0,
            ...(batch + offset === 0 ? { frames: recorded[group] } : {}),
          }
          sockets.push(socket)
          await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
          if (subscribe !== undefined) {
            socket.send(JSON.stringify({ type: 'connection_init' }))
            await new Promise((resolve) => socket.once('message', resolve))
            socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: subscribe } }))
            await new Promise((resolve) => socket.once('message', resolve))
          }
          socket.on('message', (data) => {
            counter.received++
            counter.frames?.push((data as Buffer).toString())
            counter.wake?.()
          })
          counters.push(counter)
        }),
      )
    }
  }
  return null
}

async function until(counter: Counter, count: number): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS
  while (counter.received < count) {
    if (performance.now() > deadline)
      throw new Error(`A client received ${counter.received} of ${count} messages`)
    await new Promise<void>((resolve) => {
      counter.wake = resolve
      setTimeout(resolve, 1000).unref()
    })
  }
}
