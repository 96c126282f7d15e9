/**
 * Reading `$all`: every record in log order, system events and hidden ones included. Forwards from a
 * position includes it, backwards excludes it; a position must be an event's or the end of the log. A
 * damaged record fails the read (DamagedRecordError) once every event before it has been yielded.
 */
import type { ReadAllFromOptions, ReadAllOptions, StoredEvent } from './engine.ts'
import { InvalidPositionError } from './engine-errors.ts'
import { toLimit, type ReadContext } from './read-context.ts'

const DEFAULT_PAGE_SIZE = 512

export function readAll(context: ReadContext, options: ReadAllOptions): Iterable<StoredEvent> {
  const { index, durableCount, durableEnd } = context
  const limit = toLimit(options.maxCount)
  const filter = options.filter ?? (() => true)
  const startIndex = startOf(context, options)
  if (options.direction === 'forwards') {
    return {
      *[Symbol.iterator]() {
        let yielded = 0
        let at = index.all[startIndex] ?? durableEnd
        while (yielded < limit && at < durableEnd) {
          const page = context.reader.readPage(at, durableEnd, Math.min(DEFAULT_PAGE_SIZE, limit - yielded))
          for (const event of page.events) {
            if (yielded >= limit) return
            if (!filter(event)) continue
            yielded++
            yield event
          }
          at = page.next
        }
      },
    }
  }
  return {
    *[Symbol.iterator]() {
      let yielded = 0
      for (let i = Math.min(startIndex, durableCount - 1); i >= 0 && yielded < limit; i--) {
        const event = context.load(index.all[i] ?? 0)
        if (!filter(event)) continue
        yielded++
        yield event
      }
    },
  }
}

/** Pages of events from the log; ends once it reaches the durable end as of that moment. */
export async function* readAllFrom(
  context: () => ReadContext,
  position: 'start' | bigint,
  options: ReadAllFromOptions = {},
): AsyncGenerator<StoredEvent> {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE
  const { index } = context()
  let at = position === 'start' ? 0 : (index.all[index.lowerBound(Number(position))] ?? Infinity)
  if (options.exclusive === true && position !== 'start' && at === Number(position)) {
    at = index.all[index.lowerBound(at + 1)] ?? Infinity
  }
  for (;;) {
    const { reader, durableEnd } = context()
    if (at >= durableEnd) return
    const page = reader.readPage(at, durableEnd, pageSize)
    at = page.next
    yield* page.events
    // Let the rest of the server run between pages.
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

// The index in `all` of the first event to yield (forwards) or the one after it (backwards).
function startOf(context: ReadContext, options: ReadAllOptions): number {
  const { from } = options
  const forwards = options.direction === 'forwards'
  if (from === 'start') return forwards ? 0 : -1
  if (from === 'end') return forwards ? context.durableCount : context.durableCount - 1
  const position = Number(from)
  if (position === context.durableEnd) return forwards ? context.durableCount : context.durableCount - 1
  const i = context.index.lowerBound(position)
  if (i >= context.durableCount || context.index.all[i] !== position) throw new InvalidPositionError(from)
  return forwards ? i : i - 1
}
