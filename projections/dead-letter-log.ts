import { nameBasedUuid, type EventStore } from '../framework/index.ts'

/** The dead letters of a reactor or a workflow, kept in a stream of the event store. */
export interface DeadLetterLog<TLetter> {
  /** Keeps a dead letter; once however often (its record's id is derived from the letter). */
  record(letter: TLetter): Promise<void>
  /** The dead letters not settled yet, oldest first. */
  list(): Promise<TLetter[]>
  /** Marks a dead letter settled: it went in on a retry, or was discarded. */
  settle(letter: TLetter, outcome: 'retried' | 'discarded'): Promise<void>
}

/** How one kind of dead letter is written to its stream and read back. */
export interface DeadLetterFormat<TLetter> {
  readonly stream: string
  /** The event types of a letter kept and of a letter settled. */
  readonly types: { readonly dead: string; readonly settled: string }
  /** The field a record names its letter by (in both records), and its value for a letter. */
  readonly key: { readonly field: string; readonly of: (letter: TLetter) => string }
  /** The name a record's id is derived from, within the stream: the same letter always gives the same name. */
  readonly recordName: (letter: TLetter, kind: 'dead' | 'settled') => string
  readonly encode: (letter: TLetter) => Record<string, unknown>
  readonly decode: (data: Record<string, unknown>) => TLetter
}

/**
 * Creates a log of dead letters in a stream: a letter is open from its dead record until a settled record
 * names it, so a restart loses none and a repeated record appends nothing.
 */
export function createDeadLetterLog<TLetter>(
  store: EventStore,
  format: DeadLetterFormat<TLetter>,
): DeadLetterLog<TLetter> {
  const { stream, types, key } = format
  const append = (letter: TLetter, kind: 'dead' | 'settled', data: Record<string, unknown>) =>
    store.appendToStream(stream, [
      { id: nameBasedUuid(`${stream}/${format.recordName(letter, kind)}`), type: types[kind], data },
    ])
  return {
    async record(letter) {
      await append(letter, 'dead', format.encode(letter))
    },
    async list() {
      const open = new Map<string, TLetter>()
      for await (const event of store.readStream(stream)) {
        const data = event.data as Record<string, unknown>
        const name = String(data[key.field])
        if (event.type === types.dead) open.set(name, format.decode(data))
        else if (event.type === types.settled) open.delete(name)
      }
      return [...open.values()]
    },
    async settle(letter, outcome) {
      await append(letter, 'settled', { [key.field]: key.of(letter), outcome })
    },
  }
}
