/**
 * A load generator in a child process, driven over IPC: the HTTP and WebSocket clients of the gateway benches
 * run there on both sides of a comparison, so that neither the figure nor the baseline shares its process with
 * its clients. Each call answers once the child has done the work; a side's time is taken in the parent,
 * around the work its server does.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'

/** One round of HTTP load: `concurrency` loops sending the same request for `durationMs`. */
export interface HttpRound {
  readonly url: string
  readonly concurrency: number
  /** Paces the loops to this many requests per second in all (open loop); absent, each sends as fast as answered. */
  readonly ratePerSecond?: number
  readonly durationMs: number
  readonly method?: 'GET' | 'POST'
  readonly headers?: Record<string, string>
  /** The body; `$WORKER` in it becomes the loop's number (0 … concurrency - 1). */
  readonly body?: string
}

/** Clients on one URL: graphql-transport-ws clients subscribed to `subscribe`, or bare WebSocket clients. */
export interface SocketGroup {
  readonly url: string
  readonly count: number
  readonly subscribe?: string
}

export type GeneratorRequest = { readonly id: number } & (
  | { readonly kind: 'http'; readonly round: HttpRound }
  | { readonly kind: 'open'; readonly groups: readonly SocketGroup[] }
  | { readonly kind: 'untilEach'; readonly count: number }
  | { readonly kind: 'closeSockets' }
)

export type GeneratorReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }

export interface LoadGenerator {
  /** Requests per second over the round, and how many were answered. */
  http(round: HttpRound): Promise<{ perSecond: number; requests: number }>
  /** Opens the groups' clients; resolves once each is connected (and has its subscription's first frame). */
  openSockets(groups: readonly SocketGroup[]): Promise<void>
  /** Resolves once every open client received `count` frames more; returns each group's first client's frames. */
  untilEach(count: number): Promise<string[][]>
  closeSockets(): Promise<void>
  close(): Promise<void>
}

const childScript = new URL('./load-generator-child.ts', import.meta.url)

export async function forkLoadGenerator(): Promise<LoadGenerator> {
  const child: ChildProcess = fork(childScript, [], {
    execArgv: ['--conditions=development', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  await once(child, 'spawn')
  let next = 0
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  child.on('message', (reply: GeneratorReply) => {
    const waiting = pending.get(reply.id)
    pending.delete(reply.id)
    if (reply.ok) waiting?.resolve(reply.result)
    else waiting?.reject(new Error(`load generator: ${reply.error}`))
  })
  child.once('exit', (code) => {
    for (const waiting of pending.values()) waiting.reject(new Error(`load generator exited (${code})`))
  })
  // Distributes Omit over the union, so each request keeps its own fields.
  type Body = GeneratorRequest extends infer R ? (R extends GeneratorRequest ? Omit<R, 'id'> : never) : never
  const ask = <T>(request: Body): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = next++
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      child.send({ ...request, id })
    })
  return {
    http: (round) => ask({ kind: 'http', round }),
    openSockets: (groups) => ask({ kind: 'open', groups }),
    untilEach: (count) => ask({ kind: 'untilEach', count }),
    closeSockets: () => ask({ kind: 'closeSockets' }),
    async close() {
      const exited = once(child, 'exit')
      child.disconnect()
      await exited
    },
  }
}
