/**
 * The server-side `$all` filter of reads and subscriptions: on stream names or event types, by regex or by
 * prefixes, with its search window and checkpoint interval multiplier.
 */
import type { StoredEvent } from '../engine/engine.ts'
import type { ReadReq } from './protocol.ts'
import { RequestRefused } from './request-refused.ts'
import { invalidArgument } from './status-errors.ts'

type FilterOptions = InstanceType<typeof ReadReq.Options.FilterOptions>

export interface AllFilter {
  readonly matches: (event: StoredEvent) => boolean
  /** Events considered (matching or not) between two checkpoint messages: window x multiplier. */
  readonly checkpointEvery: number
}

/** The window EventStoreDB uses when the client asks for `count` rather than a `max` window. */
const DEFAULT_WINDOW = 32

export function allFilterOf(options: FilterOptions): AllFilter {
  const onStream = options.hasStreamIdentifier()
  const expression = onStream ? options.getStreamIdentifier() : options.getEventType()
  if (expression === undefined)
    throw new RequestRefused(invalidArgument('A filter needs a stream or event type expression'))
  const test = expressionTest(expression.getRegex(), expression.getPrefixList())
  const window = options.hasMax() ? options.getMax() : DEFAULT_WINDOW
  const multiplier = options.getCheckpointintervalmultiplier() || 1
  return {
    matches: onStream ? (event) => test(event.stream) : (event) => test(event.type),
    checkpointEvery: Math.max(1, window * multiplier),
  }
}

function expressionTest(regex: string, prefixes: readonly string[]): (value: string) => boolean {
  if (prefixes.length > 0) return (value) => prefixes.some((prefix) => value.startsWith(prefix))
  if (regex === '') return () => true
  let pattern: RegExp
  try {
    pattern = new RegExp(regex)
  } catch {
    throw new RequestRefused(invalidArgument(`Invalid filter regex: ${regex}`))
  }
  return (value) => pattern.test(value)
}
