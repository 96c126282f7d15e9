/**
 * One system projection at work: it reads `$all` from its checkpoint, writes the link events the
 * projection emits (system-projections.ts), each target stream's links in one append, and wakes on every
 * commit, so links follow their events closely but after them, as EventStoreDB's do. Once it has read to the
 * head of the log, it takes each commit's events as the engine publishes them instead of reading them back
 * from the log; it reads from the log again whenever it cannot be sure they follow what it handled.
 *
 * Exactly once: each link carries the `$all` position of its source (`$c`, `$p`), and a link is written only
 * after the last one its stream holds, so a restart that reads again from an older checkpoint writes no
 * link twice. The checkpoint (`$projections-<name>-checkpoint`, `$ProjectionCheckpoint`) also keeps whether
 * the projection is enabled, and is written when it caught up after emitting, and every CHECKPOINT_EVERY events.
 */
import { LRUCache } from 'lru-cache'
import { randomUUID } from 'node:crypto'
import type { Engine, ProposedEvent, StoredEvent } from '../engine/engine.ts'
import {
  emissionsOf,
  SYSTEM_PROJECTION_NAMES,
  type Emission,
  type SystemProjectionName,
} from './system-projections.ts'

const CHECKPOINT_EVERY = 4096
const BATCH_EVENTS = 512
/** Committed events held for a runner behind them; past this many it reads them from the log instead. */
const LIVE_EVENTS = 4096
const KNOWN_STREAMS = 10_000
/** What EventStoreDB writes as `$v` (projection id, epoch, version, subsystem version 4). */
const VERSION_SUFFIX = ':-1:1:4'

export class ProjectionRunner {
  private enabledNow = true
  /** The position of the last source event handled. */
  private position: bigint | undefined
  private checkpointed: bigint | undefined
  private handledSinceCheckpoint = 0
  private processed = 0
  private readonly lastEmitted = new LRUCache<string, bigint>({ max: KNOWN_STREAMS })
  private running: Promise<void> | undefined
  private again = false
  /**
   * The events committed since it last reached the head of the log, in order; undefined when it must read
   * from the log (not caught up yet, or it let too many wait).
   */
  private live: StoredEvent[] | undefined
  private stopped = false

  constructor(
    readonly name: SystemProjectionName,
    private readonly engine: Engine,
  ) {}

  get enabled(): boolean {
    return this.enabledNow
  }

  /** The position of the last source event handled (undefined: none yet). */
  get lastPosition(): bigint | undefined {
    return this.position
  }

  get checkpointPosition(): bigint | undefined {
    return this.checkpointed
  }

  get eventsProcessed(): number {
    return this.processed
  }

  /** Whether it has handled every event up to the head of the log. */
  get caughtUp(): boolean {
    return this.position !== undefined && this.position >= this.engine.headPosition()
  }

  /**
   * Loads the checkpoint and, when enabled, starts catching up: `allowed` false keeps it stopped whatever its
   * checkpoint says (it can still be enabled through the API until the next start); true runs it unless its
   * checkpoint says it was disabled.
   */
  start(allowed: boolean): void {
    const last = this.engine.lastEvent(checkpointStream(this.name))
    const saved = last === undefined ? undefined : parseCheckpoint(last.data)
    this.enabledNow = allowed && (saved?.enabled ?? true)
    this.position = saved?.position
    this.checkpointed = saved?.position
    this.wake()
  }

  /** New commits may concern it: `committed`, the events of one commit as the engine published them. */
  wake(committed?: readonly StoredEvent[]): void {
    if (this.stopped || !this.enabledNow) return
    if (committed === undefined || this.live === undefined || this.live.length > LIVE_EVENTS) {
      this.live = undefined
    } else {
      for (const event of committed) this.live.push(event)
    }
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.run().finally(() => (this.running = undefined))
  }

  async enable(): Promise<void> {
    await this.resume(true)
  }

  async disable(): Promise<void> {
    this.enabledNow = false
    this.live = undefined
    await this.running
    await this.saveCheckpoint()
  }

  /** Starts again from the beginning of `$all`: its streams are soft-deleted and written anew. */
  async reset(): Promise<void> {
    const wasEnabled = this.enabledNow
    this.enabledNow = false
    await this.running
    for (const stream of await this.emittedStreams()) {
      await this.engine.softDelete(stream, 'any')
      this.lastEmitted.set(stream, -1n)
    }
    this.position = undefined
    this.live = undefined
    this.processed = 0
    await this.resume(wasEnabled)
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.running
  }

  /** Records whether it runs in its checkpoint, then catches up if it does. */
  private async resume(enabled: boolean): Promise<void> {
    this.enabledNow = enabled
    await this.saveCheckpoint()
    this.wake()
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false
        await this.catchUp()
      } while (this.again && !this.stopped && this.enabledNow)
    } catch {
      // The engine closed under it (the devstore is stopping: the next start resumes from the checkpoint), or
      // a write failed: whatever it took and did not handle is read from the log when it wakes again.
      this.live = undefined
    }
  }

  private async catchUp(): Promise<void> {
    let batch: { event: StoredEvent; emissions: Emission[] }[] = []
    let emitted = false
    for await (const event of this.unhandled()) {
      if (this.stopped || !this.enabledNow) break
      batch.push({ event, emissions: emissionsOf(this.name, event) })
      if (batch.length >= BATCH_EVENTS) {
        emitted = (await this.write(batch)) || emitted
        batch = []
      }
    }
    if (batch.length > 0) emitted = (await this.write(batch)) || emitted
    // At the head now (no commit came since, or it would have moved the head): later commits follow in order.
    if (this.live === undefined && this.position === this.engine.headPosition()) this.live = []
    if (emitted || this.handledSinceCheckpoint >= CHECKPOINT_EVERY) await this.saveCheckpoint()
  }

  /** The events after the last one handled: those published since it reached the head, else from the log. */
  private unhandled(): Iterable<StoredEvent> | AsyncIterable<StoredEvent> {
    const live = this.live
    if (live !== undefined) {
      this.live = []
      return live
    }
    const from = this.position ?? 'start'
    return this.engine.readAllFrom(from, { exclusive: this.position !== undefined })
  }

  /** Writes a batch's links, one append per target stream; true when it wrote any. */
  private async write(batch: readonly { event: StoredEvent; emissions: Emission[] }[]): Promise<boolean> {
    const byStream = new Map<string, ProposedEvent[]>()
    for (const { event, emissions } of batch) {
      for (const emission of emissions) {
        if (event.position <= this.lastEmittedTo(emission.stream)) continue
        const links = byStream.get(emission.stream) ?? []
        links.push(this.link(emission, event))
        byStream.set(emission.stream, links)
      }
    }
    await Promise.all(
      [...byStream].map(async ([stream, links]) => {
        if (this.lastEmittedTo(stream) < 0n && this.engine.lastEvent(`$$${stream}`) === undefined) {
          await this.engine.append(`$$${stream}`, 'any', [linkStreamMetadata()])
        }
        const result = await this.engine.append(stream, 'any', links)
        if (result.kind !== 'ok')
          throw new Error(`devstore: ${this.name} could not write ${stream}: ${result.kind}`)
      }),
    )
    const last = batch[batch.length - 1]!.event.position
    for (const stream of byStream.keys()) this.lastEmitted.set(stream, last)
    this.position = last
    this.processed += batch.length
    this.handledSinceCheckpoint += batch.length
    return byStream.size > 0
  }

  private link(emission: Emission, source: StoredEvent): ProposedEvent {
    const id = SYSTEM_PROJECTION_NAMES.indexOf(this.name) + 1
    const metadata = {
      $v: `${id}${VERSION_SUFFIX}`,
      $c: Number(source.position),
      $p: Number(source.position),
      ...emission.metadata,
      $causedBy: source.id,
    }
    return {
      id: randomUUID(),
      type: emission.type,
      data: Buffer.from(emission.data, 'utf8'),
      metadata: Buffer.from(JSON.stringify(metadata), 'utf8'),
      // EventStoreDB writes links as not JSON.
      contentType: 'application/octet-stream',
    }
  }

  /** The source position of the last link in `stream` (from its metadata), -1 when it has none. */
  private lastEmittedTo(stream: string): bigint {
    let known = this.lastEmitted.get(stream)
    if (known === undefined) {
      // Bounded: a stream forgotten reads its last link again.
      const last = this.engine.lastEvent(stream)
      known = last === undefined ? -1n : (sourcePositionOf(last) ?? -1n)
      this.lastEmitted.set(stream, known)
    }
    return known
  }

  private async saveCheckpoint(): Promise<void> {
    const position = this.position === undefined ? -1 : Number(this.position)
    const data = JSON.stringify({ $c: position, $p: position, enabled: this.enabledNow })
    await this.engine.append(checkpointStream(this.name), 'any', [
      {
        id: randomUUID(),
        type: '$ProjectionCheckpoint',
        data: Buffer.from(data, 'utf8'),
        metadata: new Uint8Array(),
        contentType: 'application/json',
      },
    ])
    this.checkpointed = this.position
    this.handledSinceCheckpoint = 0
  }

  // The streams this projection wrote: those whose links it wrote carry its `$v` id.
  private async emittedStreams(): Promise<string[]> {
    const streams = new Set<string>()
    const version = `${SYSTEM_PROJECTION_NAMES.indexOf(this.name) + 1}${VERSION_SUFFIX}`
    for await (const event of this.engine.readAllFrom('start')) {
      if (!event.stream.startsWith('$') || streams.has(event.stream) || event.metadata.length === 0) continue
      if (metadataField(event, '$v') === version) streams.add(event.stream)
    }
    return [...streams]
  }
}

export function checkpointStream(name: SystemProjectionName): string {
  return `$projections-${name}-checkpoint`
}

function parseCheckpoint(data: Uint8Array): { position: bigint | undefined; enabled: boolean } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { $p?: unknown; enabled?: unknown }
    const position = typeof parsed.$p === 'number' && parsed.$p >= 0 ? BigInt(parsed.$p) : undefined
    return { position, enabled: parsed.enabled !== false }
  } catch {
    return undefined
  }
}

function sourcePositionOf(link: StoredEvent): bigint | undefined {
  const position = metadataField(link, '$p')
  return typeof position === 'number' ? BigInt(position) : undefined
}

function metadataField(event: StoredEvent, key: string): unknown {
  try {
    return (JSON.parse(Buffer.from(event.metadata).toString('utf8')) as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

// The metadata EventStoreDB gives a stream a projection writes first: everyone may read it.
function linkStreamMetadata(): ProposedEvent {
  return {
    id: randomUUID(),
    type: '$metadata',
    data: Buffer.from(JSON.stringify({ $acl: { $r: '$all', $mr: '$all' } }), 'utf8'),
    metadata: new Uint8Array(),
    contentType: 'application/json',
  }
}
