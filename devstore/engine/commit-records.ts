/**
 * The records a commit writes: the proposed events of an append, and the events the engine writes itself
 * (stream metadata, tombstones, the system events of a fresh database).
 */
import { randomUUID } from 'node:crypto'
import { DELETED_REVISION, SYSTEM_EVENTS_ON_CREATE } from './engine-constants.ts'
import type { ProposedEvent } from './engine.ts'
import type { LogIndex } from './log-index.ts'
import type { EventToEncode } from './record-codec.ts'

const EMPTY = new Uint8Array(0)

export function appendRecords(
  stream: string,
  firstRevision: bigint,
  events: readonly ProposedEvent[],
  created: number,
): EventToEncode[] {
  return events.map(({ id, type, data, metadata, contentType }, i) => ({
    stream,
    revision: firstRevision + BigInt(i),
    id,
    type,
    data,
    metadata,
    contentType,
    created,
  }))
}

/** A `$metadata` event at the next revision of `$$<stream>`. */
export function metadataRecord(
  index: LogIndex,
  stream: string,
  json: string,
  created: number,
): EventToEncode {
  const metastream = `$$${stream}`
  return systemRecord(
    metastream,
    BigInt((index.stream(metastream)?.last ?? -1) + 1),
    '$metadata',
    json,
    created,
  )
}

export function tombstoneRecord(stream: string, created: number): EventToEncode {
  return { ...systemRecord(stream, DELETED_REVISION, '$streamDeleted', '', created), data: EMPTY }
}

export function systemEventsRecords(created: number): EventToEncode[] {
  return SYSTEM_EVENTS_ON_CREATE.map(({ stream, type, json }) =>
    systemRecord(stream, 0n, type, json, created),
  )
}

function systemRecord(
  stream: string,
  revision: bigint,
  type: string,
  json: string,
  created: number,
): EventToEncode {
  const data = Buffer.from(json)
  return {
    stream,
    revision,
    id: randomUUID(),
    type,
    data,
    metadata: EMPTY,
    contentType: 'application/json',
    created,
  }
}
