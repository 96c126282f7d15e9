import type { Engine, StoredEvent } from '../engine/engine.ts'
import { EngineError } from '../engine/engine-errors.ts'
import { ALL_STREAM, isBookkeepingStream, matchesFilter, type GroupDefinition } from './group-settings.ts'
import type { Delivery } from './read-event.ts'
import type { GroupMessage } from './subscription-group.ts'

/**
 * A page read from a group's source, and whether the source had nothing more at that moment; `damage` when
 * the read stopped at a damaged record (DATA_CORRUPT): the messages are those before it, and the cursor
 * stays on it, so the next read reaches it again.
 */
export interface SourcePage {
  readonly messages: GroupMessage<Delivery>[]
  readonly atHead: boolean
  readonly damage?: EngineError
}

/** Where a group reads its events: one stream by revision, or `$all` by position. */
export interface GroupSource {
  /** The next page of at most `max` messages after the cursor; advances the cursor. */
  read(max: number): Promise<SourcePage>
  /** Whether freshly committed events concern this source, so its reader should wake. */
  concerns(events: readonly StoredEvent[]): boolean
  /** The newest event of the source as GetInfo shows it (revision or position), if any. */
  lastKnown(): bigint | undefined
}

/** Events scanned per page of a filtered `$all` group before it yields, matching or not. */
const MAX_SCAN = 4_096

/**
 * The source of one group, positioned after its checkpoint, or at its start point when it has none
 * (a start point is inclusive, a checkpoint exclusive; "end" means after the newest event at start).
 */
export function createGroupSource(
  engine: Engine,
  definition: GroupDefinition,
  checkpoint: bigint | undefined,
): GroupSource {
  return definition.stream === ALL_STREAM
    ? allSource(engine, definition, checkpoint)
    : streamSource(engine, definition, checkpoint)
}

function streamSource(
  engine: Engine,
  definition: GroupDefinition,
  checkpoint: bigint | undefined,
): GroupSource {
  const { stream, startFrom, settings } = definition
  let next: bigint
  if (checkpoint !== undefined) next = checkpoint + 1n
  else if (startFrom.kind === 'start') next = 0n
  else if (startFrom.kind === 'at') next = startFrom.value
  else next = (engine.streamRevision(stream) ?? -1n) + 1n

  return {
    async read(max) {
      const result = await engine.readStream(stream, {
        direction: 'forwards',
        fromRevision: next,
        maxCount: max,
      })
      if (result.kind !== 'ok') return { messages: [], atHead: true }
      const messages: GroupMessage<Delivery>[] = []
      try {
        for (const event of result.events) {
          messages.push(toMessage(engine, event, event.revision, settings.resolveLinks))
          next = event.revision + 1n
        }
      } catch (error) {
        return damagedPage(messages, error)
      }
      return { messages, atHead: messages.length < max }
    },
    concerns: (events) => events.some((event) => event.stream === stream),
    lastKnown: () => engine.streamRevision(stream),
  }
}

function allSource(engine: Engine, definition: GroupDefinition, checkpoint: bigint | undefined): GroupSource {
  const { startFrom, filter, settings } = definition
  let from: bigint | 'start'
  let exclusive = true
  if (checkpoint !== undefined) from = checkpoint
  else if (startFrom.kind === 'start') from = 'start'
  else if (startFrom.kind === 'at') [from, exclusive] = [startFrom.value, false]
  else from = engine.headPosition()

  const wanted = (event: StoredEvent) =>
    !isBookkeepingStream(event.stream) && matchesFilter(filter, event.stream, event.type)

  return {
    async read(max) {
      const messages: GroupMessage<Delivery>[] = []
      // A page no bigger than what is asked for, unless a filter will skip most of what it reads.
      const pageSize = filter === undefined ? Math.max(16, max) : 512
      let scanned = 0
      try {
        for await (const event of engine.readAllFrom(from, {
          exclusive: from !== 'start' && exclusive,
          pageSize,
        })) {
          if (wanted(event)) messages.push(toMessage(engine, event, event.position, settings.resolveLinks))
          from = event.position
          exclusive = true
          scanned++
          if (messages.length >= max || scanned >= MAX_SCAN) return { messages, atHead: false }
        }
      } catch (error) {
        return damagedPage(messages, error)
      }
      return { messages, atHead: true }
    },
    concerns: (events) => events.some(wanted),
    lastKnown: () => engine.headPosition(),
  }
}

// Only damage is the group's to report; anything else (the engine closing) is the pump's.
function damagedPage(messages: GroupMessage<Delivery>[], error: unknown): SourcePage {
  if (!(error instanceof EngineError) || error.code !== 'DATA_CORRUPT') throw error
  return { messages, atHead: true, damage: error }
}

function toMessage(
  engine: Engine,
  event: StoredEvent,
  sequence: bigint,
  resolveLinks: boolean,
): GroupMessage<Delivery> {
  if (resolveLinks && event.type === '$>') {
    const target = engine.resolveLink(event)
    if (target !== undefined) {
      return { id: event.id, sequence, pinKey: target.stream, payload: { event: target, link: event } }
    }
  }
  return { id: event.id, sequence, pinKey: event.stream, payload: { event } }
}
