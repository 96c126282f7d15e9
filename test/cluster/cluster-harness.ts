import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createPeerClient } from '../../framework/sharding/wire/peer-client.ts'

/** Child processes of the cluster tests: replicas of the fixture app (or any entry) on loopback. */
export interface ReplicaProcess {
  readonly url: string
  readonly port: number
  child: ChildProcess
  /** What the replica has written to stderr so far (its warnings and errors), for a failure's message. */
  readonly output: () => string
}

export const replicaEntry = fileURLToPath(new URL('./fixtures/replica.ts', import.meta.url))
const root = fileURLToPath(new URL('../../', import.meta.url))

/** Reserves free loopback ports: listens on port 0, reads the port back, and frees it for a replica. */
export async function reservePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer()
          server.listen(0, '127.0.0.1', () => resolve(server))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

/** Spawns one replica and resolves once it prints `ready`; rejects if it exits first or takes too long. */
export function spawnReplica(options: {
  readonly port: number
  readonly env: Readonly<Record<string, string>>
  readonly entry?: string
  readonly timeoutMs?: number
}): Promise<ReplicaProcess> {
  const url = `http://127.0.0.1:${options.port}`
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', options.entry ?? replicaEntry],
    {
      cwd: root,
      env: {
        ...process.env,
        ...options.env,
        PORT: String(options.port),
        HOST: '127.0.0.1',
        ANNALS_SELF_URL: url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`Replica ${url} did not start within ${options.timeoutMs ?? 60_000} ms: ${output}`))
    }, options.timeoutMs ?? 60_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready ')) {
        clearTimeout(timer)
        resolve({ url, port: options.port, child, output: () => output })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`Replica ${url} exited with ${code}: ${output}`))
    })
  })
}

/** Kills with SIGKILL and resolves once the process is gone. */
export function killHard(replica: ReplicaProcess): Promise<void> {
  if (replica.child.exitCode !== null || replica.child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    replica.child.once('exit', () => resolve())
    replica.child.kill('SIGKILL')
  })
}

const client = createPeerClient({ secret: undefined })

export async function postJson(url: string, path: string, body: unknown, timeoutMs = 2000) {
  return client.post(url, path, body, { timeoutMs })
}

/** Resolves once every replica sees all `urls` alive (polls /status: a condition, bounded in time). */
export async function ringConverged(replicas: readonly ReplicaProcess[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const urls = replicas.map((r) => r.url)
  for (;;) {
    const views = await Promise.all(
      replicas.map(async (r) => {
        try {
          const reply = await client.get(r.url, '/status', { timeoutMs: 1000 })
          const members = (reply.body as { members: { url: string; state: string }[] }).members
          return urls.every((u) => members.some((m) => m.url === u && m.state === 'alive'))
        } catch {
          return false
        }
      }),
    )
    if (views.every(Boolean)) return
    if (Date.now() > deadline) throw new Error(`The ring did not converge within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface Ack {
  readonly aggregateId: string
  readonly commandId: string
  /** When the client first sent the command. */
  readonly sentAt: number
  readonly ackedAt: number
}

/**
 * A steady load: `concurrency` clients, each sending increments to random aggregates through random
 * replicas. A client that gets no answer (refused, timed out, 503) sends the same command id to the next
 * replica, as a real client with an idempotency key would; only answered commands count as acknowledged.
 */
export function startLoad(options: {
  readonly urls: readonly string[]
  readonly ids: readonly string[]
  readonly concurrency: number
  readonly requestTimeoutMs: number
}) {
  const acks: Ack[] = []
  const failures: string[] = []
  const listeners = new Set<() => void>()
  let running = true
  /** Sends one command until some replica answers it, the same command id every attempt. */
  const sendUntilAnswered = async (aggregateId: string, urls: readonly string[], firstTurn: number) => {
    const commandId = randomUUID()
    const sentAt = Date.now()
    const command = { aggregate: 'Counter', command: 'increment', aggregateId, input: { by: 1 }, commandId }
    let turn = firstTurn
    for (let attempt = 0; attempt < 40 && running; attempt++) {
      const url = urls[turn++ % urls.length]!
      try {
        const reply = await postJson(url, '/commands', command, options.requestTimeoutMs)
        if (reply.status === 200) {
          const ack = { aggregateId, commandId, sentAt, ackedAt: Date.now() }
          acks.push(ack)
          for (const listener of listeners) listener()
          return ack
        }
        if (reply.status !== 503) {
          failures.push(`${reply.status} ${JSON.stringify(reply.body)}`)
          return undefined
        }
      } catch {
        // Unreachable replica: the next attempt goes to another one.
      }
    }
    return undefined
  }
  const worker = async (index: number) => {
    for (let turn = index; running; turn++) {
      const aggregateId = options.ids[Math.floor(Math.random() * options.ids.length)]!
      await sendUntilAnswered(aggregateId, options.urls, turn)
    }
  }
  const workers = Array.from({ length: options.concurrency }, (_, i) => worker(i))
  return {
    acks,
    failures,
    /** Resolves once the predicate holds over the acknowledgements (checked on every new one). */
    until(predicate: (acks: readonly Ack[]) => boolean, timeoutMs = 20_000): Promise<void> {
      if (predicate(acks)) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`Load condition not reached within ${timeoutMs} ms (${acks.length} acks)`))
        }, timeoutMs)
        const check = () => {
          if (!predicate(acks)) return
          clearTimeout(timer)
          listeners.delete(check)
          resolve()
        }
        listeners.add(check)
      })
    },
    /**
     * Sends a command to each of `ids` through `urls` (the replicas still up) until each is answered, and
     * resolves with the worst time from `since` to an answer: how long those aggregates were out of service.
     */
    async recovery(ids: readonly string[], urls: readonly string[], since: number): Promise<number> {
      const answered = await Promise.all(ids.map((id, i) => sendUntilAnswered(id, urls, i)))
      if (answered.some((a) => a === undefined))
        throw new Error('An aggregate took no command after the fault')
      return Math.max(0, ...answered.map((a) => a!.ackedAt - since))
    },
    async stop() {
      running = false
      await Promise.all(workers)
    },
  }
}
