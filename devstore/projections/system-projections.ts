/**
 * EventStoreDB's standard projections, as link events written from `$all`: what each one emits for one
 * source event. They see no event of a `$` stream except the metastream `$$x` of a stream `x` that is not
 * one; `$by_event_type` skips links, the others follow them. Categories are split at the first `-`, and a
 * stream whose name starts with `$`, or has no `-` after its first character, has none.
 *
 * | projection            | target              | type | data                                      |
 * | `$by_category`        | `$ce-<category>`    | `$>` | `<revision>@<stream>` (a link's own data) |
 * | `$by_event_type`      | `$et-<type>`        | `$>` | `<revision>@<stream>`                     |
 * | `$by_correlation_id`  | `$bc-<correlation>` | `$>` | `<revision>@<stream>`                     |
 * | `$stream_by_category` | `$category-<cat>`   | `$@` | `<stream>` (for its first event)          |
 * | `$streams`            | `$streams`          | `$>` | `0@<stream>` (for its first event)        |
 *
 * Deletes: a tombstone, and the `$metadata` a soft delete writes, go to `$ce-` with `$deleted: -1` and
 * to `$et-$deleted`.
 */
import { DELETED_REVISION, type StoredEvent } from '../engine/engine.ts'

export const SYSTEM_PROJECTION_NAMES = [
  '$streams',
  '$stream_by_category',
  '$by_category',
  '$by_event_type',
  '$by_correlation_id',
] as const

export type SystemProjectionName = (typeof SYSTEM_PROJECTION_NAMES)[number]

/** One link event a projection writes for a source event. */
export interface Emission {
  readonly stream: string
  readonly type: '$>' | '$@'
  readonly data: string
  /** Keys the projection adds to the link's metadata, after `$v`, `$c` and `$p`. */
  readonly metadata: Readonly<Record<string, unknown>>
}

const LINK = '$>'

export function emissionsOf(projection: SystemProjectionName, event: StoredEvent): Emission[] {
  if (!isSource(event.stream)) return []
  const deletion = deletionOf(event)
  switch (projection) {
    case '$by_category': {
      const category = categoryOf(deletion?.stream ?? event.stream)
      if (category === undefined || (event.stream.startsWith('$$') && deletion === undefined)) return []
      const data = event.type === LINK ? text(event.data) : `${event.revision}@${event.stream}`
      const metadata = {
        $o: deletion?.stream ?? event.stream,
        ...(deletion === undefined ? {} : { $deleted: -1 }),
      }
      return [{ stream: `$ce-${category}`, type: LINK, data, metadata }]
    }
    case '$by_event_type': {
      if (event.type === LINK) return []
      const type = deletion === undefined ? event.type : '$deleted'
      const metadata = deletion === undefined ? {} : { $deleted: -1 }
      return [{ stream: `$et-${type}`, type: LINK, data: `${event.revision}@${event.stream}`, metadata }]
    }
    case '$by_correlation_id': {
      const correlationId = correlationIdOf(event)
      if (correlationId === undefined) return []
      return [
        {
          stream: `$bc-${correlationId}`,
          type: LINK,
          data: `${event.revision}@${event.stream}`,
          metadata: {},
        },
      ]
    }
    case '$stream_by_category': {
      const category = categoryOf(event.stream)
      if (event.revision !== 0n || category === undefined) return []
      return [{ stream: `$category-${category}`, type: '$@', data: event.stream, metadata: {} }]
    }
    case '$streams':
      return event.revision === 0n
        ? [{ stream: '$streams', type: LINK, data: `0@${event.stream}`, metadata: {} }]
        : []
  }
}

/** The category of a stream: before its first `-`, if that is not its first character and it is no `$` stream. */
export function categoryOf(stream: string): string | undefined {
  if (stream.startsWith('$')) return undefined
  const at = stream.indexOf('-')
  return at > 0 ? stream.slice(0, at) : undefined
}

// Streams of `$` are the system's, except the metastream of a stream that is not.
function isSource(stream: string): boolean {
  return !stream.startsWith('$') || (stream.startsWith('$$') && !stream.startsWith('$$$'))
}

// A tombstone of `x`, or the soft delete of `x` (a `$metadata` in `$$x` whose `$tb` is int64 max).
function deletionOf(event: StoredEvent): { stream: string } | undefined {
  if (event.type === '$streamDeleted' && event.revision === DELETED_REVISION) return { stream: event.stream }
  if (
    event.stream.startsWith('$$') &&
    event.type === '$metadata' &&
    /"\$tb"\s*:\s*9223372036854775807\b/.test(text(event.data))
  ) {
    return { stream: event.stream.slice(2) }
  }
  return undefined
}

function correlationIdOf(event: StoredEvent): string | undefined {
  if (event.metadata.length === 0) return undefined
  try {
    const metadata: unknown = JSON.parse(text(event.metadata))
    const id = (metadata as { $correlationId?: unknown } | null)?.$correlationId
    return typeof id === 'string' && id !== '' ? id : undefined
  } catch {
    return undefined
  }
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}
