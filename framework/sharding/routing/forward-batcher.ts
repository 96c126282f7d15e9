import type { CommandResult } from '../../command/command-bus.ts'
import {
  errorFromWire,
  MAX_FORWARD_BATCH,
  resultFromWire,
  type WireBatchLine,
  type WireCommand,
  type WireError,
} from '../wire/command-wire.ts'
import { PeerUnreachableError, type PeerClient } from '../wire/peer-client.ts'

export interface ForwardBatcherOptions {
  readonly self: string
  readonly client: PeerClient
  /** The owner's batch route. */
  readonly path: string
  /** How long one forwarded command may take, queueing included, before the owner counts as unreachable. */
  readonly timeoutMs: number
  /** The owner answered that it is leaving: the router stops routing there. */
  readonly onLeaving: (owner: string) => void
  /** At most this many commands go in one request (default and ceiling MAX_FORWARD_BATCH). */
  readonly maxBatch?: number
  /** At most this many requests are in flight to one owner; commands issued meanwhile wait and go together. */
  readonly maxInFlight?: number
}

export interface ForwardBatcher {
  /**
   * Sends a command to its owner with the others bound there: rejects with PeerUnreachableError when the
   * owner cannot be reached, is leaving, or left the ring (the router then sends it elsewhere, same command id).
   */
  forward(owner: string, envelope: WireCommand['envelope']): Promise<CommandResult>
  /** Fails every command queued for or in flight to an owner that is no longer in the ring. */
  keepOnly(ring: readonly string[]): void
  close(): void
}

interface Pending {
  readonly json: string
  readonly deadline: number
  settled: boolean
  resolve(result: CommandResult): void
  reject(error: unknown): void
}

interface Peer {
  readonly url: string
  queue: Pending[]
  readonly inFlight: Set<AbortController>
  scheduled: boolean
}

/** A body this large or larger goes alone: it keeps the owner's body limit what it is for one command. */
const MAX_BATCH_BYTES = 512 * 1024

/**
 * Creates the batcher of forwarded commands, one queue per owner. A command goes out on the next turn of the
 * event loop (no timer) with every other command issued for that owner in the same turn; while the bound of
 * requests is in flight, new commands queue and go together in the next request.
 */
export function createForwardBatcher(options: ForwardBatcherOptions): ForwardBatcher {
  const { client, path, timeoutMs } = options
  const maxBatch = Math.min(options.maxBatch ?? MAX_FORWARD_BATCH, MAX_FORWARD_BATCH)
  const maxInFlight = options.maxInFlight ?? 2
  const from = JSON.stringify(options.self)
  const peers = new Map<string, Peer>()

  const schedule = (peer: Peer) => {
    if (peer.scheduled || peer.queue.length === 0 || peer.inFlight.size >= maxInFlight) return
    peer.scheduled = true
    setImmediate(() => {
      peer.scheduled = false
      while (peer.queue.length > 0 && peer.inFlight.size < maxInFlight) send(peer, take(peer))
    })
  }

  const take = (peer: Peer): Pending[] => {
    let count = 0
    let bytes = 0
    for (const item of peer.queue) {
      if (count === maxBatch || (count > 0 && bytes + item.json.length > MAX_BATCH_BYTES)) break
      count++
      bytes += item.json.length
    }
    return peer.queue.splice(0, count)
  }

  const send = (peer: Peer, queued: Pending[]) => {
    const now = Date.now()
    const items = queued.filter((item) => {
      if (item.deadline > now) return true
      settle(item, unreachable(peer.url, `no answer within ${timeoutMs} ms`))
      return false
    })
    if (items.length === 0) return
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(
      () => {
        timedOut = true
        controller.abort()
      },
      // Items queue in order, so the first has the earliest deadline.
      items[0]!.deadline - now,
    )
    peer.inFlight.add(controller)
    const payload = `{"from":${from},"commands":[${items.map((item) => item.json).join(',')}]}`
    client
      .postLines(peer.url, path, payload, {
        timeoutMs,
        signal: controller.signal,
        onLine: (line) => answer(peer.url, items, line as WireBatchLine),
      })
      .then(
        (reply) => {
          if (reply.status === 200) {
            for (const item of unsettled(items))
              settle(item, unreachable(peer.url, 'answered without a result'))
            return
          }
          const wire = reply.body as WireError | undefined
          if (wire?.retry === true) options.onLeaving(peer.url)
          for (const item of unsettled(items)) settle(item, failure(peer.url, reply.status, wire))
        },
        (error: unknown) => {
          const reason = timedOut ? unreachable(peer.url, `no answer within ${timeoutMs} ms`) : error
          for (const item of unsettled(items)) settle(item, reason)
        },
      )
      .finally(() => {
        clearTimeout(timer)
        peer.inFlight.delete(controller)
        schedule(peer)
      })
  }

  const answer = (owner: string, items: readonly Pending[], line: WireBatchLine) => {
    const item = items[line.i]
    if (item === undefined || item.settled) return
    if ('ok' in line) return settle(item, resultFromWire(line.ok), true)
    if (line.error.retry !== true) return settle(item, errorFromWire(line.error))
    options.onLeaving(owner)
    settle(item, unreachable(owner, 'it is leaving'))
  }

  const failAll = (peer: Peer, reason: string) => {
    for (const controller of peer.inFlight) controller.abort()
    for (const item of peer.queue.splice(0)) settle(item, unreachable(peer.url, reason))
  }

  return {
    forward(owner, envelope) {
      return new Promise<CommandResult>((resolve, reject) => {
        let peer = peers.get(owner)
        if (peer === undefined) {
          peer = { url: owner, queue: [], inFlight: new Set(), scheduled: false }
          peers.set(owner, peer)
        }
        const json = JSON.stringify(envelope)
        peer.queue.push({ json, deadline: Date.now() + timeoutMs, settled: false, resolve, reject })
        schedule(peer)
      })
    },
    keepOnly(ring) {
      for (const peer of peers.values()) if (!ring.includes(peer.url)) failAll(peer, 'it left the ring')
    },
    close() {
      for (const peer of peers.values()) failAll(peer, 'this replica is closing')
    },
  }
}

function settle(item: Pending, outcome: unknown, ok = false): void {
  if (item.settled) return
  item.settled = true
  if (ok) item.resolve(outcome as CommandResult)
  else item.reject(outcome)
}

const unsettled = (items: readonly Pending[]) => items.filter((item) => !item.settled)

function failure(owner: string, status: number, wire: WireError | undefined): unknown {
  if (wire?.retry === true) return unreachable(owner, 'it is leaving')
  if (wire === undefined || typeof wire.code !== 'string') {
    return unreachable(owner, `answered ${status} without an error body`)
  }
  return errorFromWire(wire)
}

const unreachable = (owner: string, reason: string) => new PeerUnreachableError(owner, reason)
