/**
 * The expected-revision rules of EventStoreDB, decided against the index before anything is written:
 * whether an append (or delete) goes ahead, is an idempotent repeat of one already made, or fails.
 */
import { DELETED_REVISION } from './engine-constants.ts'
import type {
  AppendResult,
  ExpectedRevision,
  StoredEvent,
  StreamMetadata,
  WrongExpectedVersion,
} from './engine.ts'
import type { StreamEntry } from './log-index.ts'
import { hashId } from './record-codec.ts'
import { undeleteMetadata } from './stream-metadata.ts'

/** How far back in a stream `any` and `stream_exists` look for a repeated event id ("recently written"). */
export const RECENT_IDS_WINDOW = 4096

export interface IndexView {
  entry(stream: string): StreamEntry | undefined
  metadata(stream: string): StreamMetadata | undefined
  load(position: number): StoredEvent
}

export type AppendDecision =
  | { readonly kind: 'write'; readonly firstRevision: bigint; readonly undelete: string | undefined }
  | { readonly kind: 'repeat'; readonly result: Extract<AppendResult, { kind: 'ok' }> }
  | WrongExpectedVersion
  | { readonly kind: 'stream-deleted' }

interface StreamState {
  readonly entry: StreamEntry | undefined
  readonly last: number
  readonly softDeleted: boolean
  readonly metadata: StreamMetadata | undefined
}

export function decideAppend(
  view: IndexView,
  stream: string,
  expected: ExpectedRevision,
  ids: readonly string[],
): AppendDecision {
  if (isStreamDeleted(view, stream)) return { kind: 'stream-deleted' }
  const state = streamState(view, stream)
  const { entry, last, softDeleted } = state
  const wrong = wrongExpected(last, expected)
  const write: AppendDecision = {
    kind: 'write',
    firstRevision: BigInt(last + 1),
    undelete: softDeleted ? undeleteMetadata(state.metadata, BigInt(last + 1)) : undefined,
  }
  if (ids.length === 0) return expectationHolds(expected, last, softDeleted) ? write : wrong
  if (expected === 'any' || expected === 'stream_exists') {
    const repeatAt = findRecentId(view, entry, ids[0] ?? '')
    if (repeatAt !== undefined) return compareIds(view, entry, repeatAt, ids) ?? wrong
    return expectationHolds(expected, last, softDeleted) ? write : wrong
  }
  if (expected === 'no_stream') {
    return last < 0 || softDeleted ? write : (compareIds(view, entry, 0, ids) ?? wrong)
  }
  if (expected === BigInt(last)) return write
  if (expected > BigInt(last) || expected < 0n) return wrong
  return compareIds(view, entry, Number(expected) + 1, ids) ?? wrong
}

/** Soft delete and tombstone: no idempotency, the expectation must hold as stated. */
export function decideDelete(
  view: IndexView,
  stream: string,
  expected: ExpectedRevision,
  hard: boolean,
): { kind: 'delete' } | WrongExpectedVersion | { kind: 'stream-deleted' } {
  if (isStreamDeleted(view, stream)) return { kind: 'stream-deleted' }
  const { last, softDeleted } = streamState(view, stream)
  // A soft delete writes to `$$<stream>`: it needs the stream to have existed, by its events or its metadata.
  if (!hard && last < 0 && (view.entry(`$$${stream}`)?.count ?? 0) === 0) return wrongExpected(last, expected)
  return expectationHolds(expected, last, softDeleted) ? { kind: 'delete' } : wrongExpected(last, expected)
}

/** A tombstoned stream, or the metadata stream `$$x` of a tombstoned `x`. */
export function isStreamDeleted(
  view: Pick<IndexView, 'entry'>,
  stream: string,
  durableEnd = Infinity,
): boolean {
  if (view.entry(stream)?.isTombstoned(durableEnd) === true) return true
  return stream.startsWith('$$') && view.entry(stream.slice(2))?.isTombstoned(durableEnd) === true
}

function streamState(view: IndexView, stream: string): StreamState {
  const entry = view.entry(stream)
  const metadata = stream.startsWith('$$') ? undefined : view.metadata(stream)
  return {
    entry,
    last: entry?.last ?? -1,
    softDeleted: metadata?.truncateBefore === DELETED_REVISION,
    metadata,
  }
}

function expectationHolds(expected: ExpectedRevision, last: number, softDeleted: boolean): boolean {
  if (expected === 'any') return true
  if (expected === 'no_stream') return last < 0 || softDeleted
  if (expected === 'stream_exists') return last >= 0 && !softDeleted
  return expected === BigInt(last)
}

function wrongExpected(last: number, expected: ExpectedRevision): WrongExpectedVersion {
  return { kind: 'wrong-expected-version', currentRevision: last < 0 ? undefined : BigInt(last), expected }
}

function findRecentId(view: IndexView, entry: StreamEntry | undefined, id: string): number | undefined {
  if (entry === undefined) return undefined
  const hash = hashId(id)
  const stop = Math.max(0, entry.count - RECENT_IDS_WINDOW)
  for (let revision = entry.last; revision >= stop; revision--) {
    if (entry.idHash(revision) === hash && view.load(entry.position(revision)).id === id) return revision
  }
  return undefined
}

// The proposed ids against the stored events from `from`: all equal is the original append's result.
function compareIds(
  view: IndexView,
  entry: StreamEntry | undefined,
  from: number,
  ids: readonly string[],
): AppendDecision | undefined {
  if (entry === undefined || from + ids.length > entry.count) return undefined
  for (let i = 0; i < ids.length; i++) {
    if (view.load(entry.position(from + i)).id !== ids[i]) return undefined
  }
  const lastRevision = from + ids.length - 1
  return {
    kind: 'repeat',
    result: {
      kind: 'ok',
      firstRevision: BigInt(from),
      nextRevision: BigInt(lastRevision),
      position: BigInt(entry.position(lastRevision)),
    },
  }
}
