/**
 * Reading one stream, with the read-time rules of its metadata: `$tb` (truncate before; int64 max after a
 * soft delete, which reads as not found), `$maxCount` (only the newest n) and `$maxAge` (only the recent).
 */
import { DELETED_REVISION } from './engine-constants.ts'
import type { ReadStreamOptions, ReadStreamResult, StoredEvent } from './engine.ts'
import { isStreamDeleted } from './decide-append.ts'
import { toLimit, type ReadContext } from './read-context.ts'

export function readStream(
  context: ReadContext,
  stream: string,
  options: ReadStreamOptions,
): ReadStreamResult {
  const { index, durableEnd } = context
  if (isStreamDeleted({ entry: (name) => index.stream(name) }, stream, durableEnd)) return { kind: 'deleted' }
  const entry = index.stream(stream)
  const last = entry?.visibleLast(durableEnd) ?? -1
  if (entry === undefined || last < 0) return { kind: 'not-found' }
  const metadata = stream.startsWith('$$') ? undefined : context.metadata(stream, durableEnd)
  if (metadata?.truncateBefore === DELETED_REVISION) return { kind: 'not-found' }
  let first = 0
  if (metadata?.truncateBefore !== undefined) first = Math.min(last + 1, Number(metadata.truncateBefore))
  if (metadata?.maxCount !== undefined) first = Math.max(first, last + 1 - Number(metadata.maxCount))
  const createdAfter = metadata?.maxAge === undefined ? -Infinity : context.now() - metadata.maxAge * 1000
  const limit = toLimit(options.maxCount)
  const forwards = options.direction === 'forwards'
  const from = startRevision(options, first, last)
  const revisions = entry

  function* events(): Generator<StoredEvent> {
    let yielded = 0
    for (let r = from; yielded < limit && (forwards ? r <= last : r >= first); r += forwards ? 1 : -1) {
      const event = context.load(revisions.position(r))
      if (event.created < createdAfter) continue
      yielded++
      yield event
    }
  }
  return { kind: 'ok', events: { [Symbol.iterator]: events } }
}

function startRevision(options: ReadStreamOptions, first: number, last: number): number {
  const { fromRevision } = options
  if (options.direction === 'forwards') {
    if (fromRevision === 'start') return first
    if (fromRevision === 'end') return last + 1
    return Math.max(first, Number(fromRevision))
  }
  if (fromRevision === 'end') return last
  if (fromRevision === 'start') return 0
  return Math.min(last, Number(fromRevision))
}
