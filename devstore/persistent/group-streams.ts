import { randomUUID } from 'node:crypto'
import type { Engine, ProposedEvent, StoredEvent } from '../engine/engine.ts'
import { formatPosition } from './group-config.ts'
import {
  ALL_STREAM,
  CHECKPOINT_EVENT_TYPE,
  checkpointStreamName,
  parkedStreamName,
  type GroupDefinition,
} from './group-settings.ts'
import type { Delivery } from './read-event.ts'
import type { GroupMessage } from './subscription-group.ts'

const utf8 = (text: string) => Buffer.from(text, 'utf8')

/**
 * A group's own streams in the log: `$persistentsubscription-<stream>::<group>-checkpoint` with its
 * `$SubscriptionCheckpoint` events (a revision as a JSON number, or a `$all` position as the string
 * "C:<commit>/P:<prepare>"), and `…-parked` with one `$>` link per parked message; a replay truncates
 * the replayed links with `$tb`, so the parked count survives restarts too.
 */
export class GroupStreams {
  readonly checkpointStream: string
  readonly parkedStream: string

  constructor(
    private readonly engine: Engine,
    private readonly definition: GroupDefinition,
  ) {
    this.checkpointStream = checkpointStreamName(definition.stream, definition.group)
    this.parkedStream = parkedStreamName(definition.stream, definition.group)
  }

  async readCheckpoint(): Promise<bigint | undefined> {
    const result = await this.engine.readStream(this.checkpointStream, {
      direction: 'backwards',
      fromRevision: 'end',
      maxCount: 1,
    })
    if (result.kind !== 'ok') return undefined
    for (const event of result.events) return parseCheckpoint(Buffer.from(event.data).toString('utf8'))
    return undefined
  }

  async writeCheckpoint(sequence: bigint): Promise<void> {
    const json =
      this.definition.stream === ALL_STREAM ? JSON.stringify(formatPosition(sequence)) : sequence.toString()
    await this.engine.append(this.checkpointStream, 'any', [jsonEvent(CHECKPOINT_EVENT_TYPE, json)])
  }

  async park(event: StoredEvent, reason: string): Promise<void> {
    const link: ProposedEvent = {
      id: randomUUID(),
      type: '$>',
      data: utf8(`${event.revision}@${event.stream}`),
      metadata: utf8(JSON.stringify({ reason })),
      contentType: 'application/octet-stream',
    }
    await this.engine.append(this.parkedStream, 'any', [link])
  }

  async countParked(): Promise<number> {
    const result = await this.engine.readStream(this.parkedStream, {
      direction: 'forwards',
      fromRevision: 'start',
      maxCount: Number.MAX_SAFE_INTEGER,
    })
    if (result.kind !== 'ok') return 0
    let count = 0
    for (const _ of result.events) count++
    return count
  }

  /** The parked messages to replay (at most `stopAt`), truncated from the parked stream. */
  async takeParked(stopAt: bigint | undefined): Promise<GroupMessage<Delivery>[]> {
    const result = await this.engine.readStream(this.parkedStream, {
      direction: 'forwards',
      fromRevision: 'start',
      maxCount: stopAt ?? BigInt(Number.MAX_SAFE_INTEGER),
    })
    if (result.kind !== 'ok') return []
    const messages: GroupMessage<Delivery>[] = []
    let last: bigint | undefined
    for (const link of result.events) {
      last = link.revision
      const target = this.engine.resolveLink(link)
      if (target !== undefined)
        messages.push({ id: target.id, pinKey: target.stream, payload: { event: target } })
    }
    if (last !== undefined) {
      const raw = this.engine.getMetadata(this.parkedStream)?.raw ?? {}
      const metadata = JSON.stringify({ ...raw, $tb: Number(last + 1n) })
      await this.engine.append(`$$${this.parkedStream}`, 'any', [jsonEvent('$metadata', metadata)])
    }
    return messages
  }

  /** Removes the group's streams when the group is deleted, so a new group of that name starts afresh. */
  async remove(): Promise<void> {
    await this.engine.softDelete(this.checkpointStream, 'any')
    await this.engine.softDelete(this.parkedStream, 'any')
  }
}

function jsonEvent(type: string, json: string): ProposedEvent {
  return {
    id: randomUUID(),
    type,
    data: utf8(json),
    metadata: new Uint8Array(),
    contentType: 'application/json',
  }
}

function parseCheckpoint(json: string): bigint | undefined {
  try {
    const value: unknown = JSON.parse(json)
    if (typeof value === 'number') return BigInt(value)
    if (typeof value !== 'string') return undefined
    const match = /^C:(\d+)\/P:\d+$/.exec(value)
    return BigInt(match?.[1] ?? value)
  } catch {
    return undefined
  }
}
