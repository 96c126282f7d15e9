import { BadInputError } from '../errors.ts'

/**
 * The most UTF-8 bytes an aggregate id or a command id may take: the id becomes part of a stream name
 * (`${aggregate}-${id}`) and of every event's metadata, so it stays far inside what EventStoreDB keeps in a
 * stream name and small enough to sit in every index entry.
 */
export const maxIdentifierBytes = 200

// C0 and C1 controls (NUL included), the bidi embeddings, overrides and isolates, the marks that steer them,
// and the line and paragraph separators: characters that hide or reorder what an operator reads in a log.
// With the u flag a surrogate pair is one code point: \p{Cs} matches only a lone surrogate.
const loneSurrogate = /\p{Cs}/u
const forbidden = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u

/** An aggregate id or command id refused where the command enters the bus: nothing was appended. */
export class BadIdentifierError extends BadInputError {}

/**
 * Refuses an id that cannot name a stream faithfully: empty or only whitespace, not well-formed UTF-16 (a
 * lone surrogate is stored as U+FFFD, so two such ids would share one stream), holding a control or bidi
 * character, or longer than maxIdentifierBytes. Throws BAD_INPUT with one issue at `field`.
 *
 * @example
 * checkIdentifier('b-1', 'id') // passes
 * checkIdentifier('\ud800x', 'id') // throws BAD_INPUT
 */
export function checkIdentifier(value: unknown, field: 'id' | 'commandId'): void {
  const problem = problemOf(value)
  if (problem === undefined) return
  const what = field === 'id' ? 'aggregate id' : 'command id'
  throw new BadIdentifierError(`Invalid ${what}: ${problem}`, [
    { path: [field], message: problem, code: 'invalid_identifier' },
  ])
}

function problemOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string'
  if (value.trim() === '') return 'must not be empty or only whitespace'
  // Cheap before the scans below: a UTF-16 unit is at least one UTF-8 byte.
  if (value.length > maxIdentifierBytes || Buffer.byteLength(value) > maxIdentifierBytes)
    return `must take at most ${maxIdentifierBytes} UTF-8 bytes`
  if (loneSurrogate.test(value)) return 'must be well-formed Unicode (it holds a lone surrogate)'
  if (forbidden.test(value)) return 'must not hold control, bidi or line-separator characters'
  return undefined
}
