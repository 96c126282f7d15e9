/**
 * The write paths of the engine: an append or a delete, once decided against the index (decide-append.ts), is
 * written through the group commit and acknowledged when it is durable; a repeated append is acknowledged as
 * the original was, once that one is durable.
 */
import { appendRecords, metadataRecord, systemEventsRecords, tombstoneRecord } from './commit-records.ts'
import type { AppendResult, DeleteResult, ExpectedRevision, ProposedEvent, StoredEvent } from './engine.ts'
import { decideAppend, decideDelete, type IndexView } from './decide-append.ts'
import type { LogIndex } from './log-index.ts'
import type { LogWriter } from './log-writer.ts'
import type { EventToEncode } from './record-codec.ts'
import { SOFT_DELETE_METADATA } from './stream-metadata.ts'

/** What the write paths need of the engine. */
export interface WriteContext {
  /** What the decisions read: the index entries, the events and the metadata they stand for. */
  readonly view: IndexView
  readonly index: LogIndex
  readonly writer: LogWriter
  /** The most bytes of data and metadata one append may carry. */
  readonly maxAppendSize: number
  now(): number
  /** Throws when the engine is closed or its log failed. */
  assertOpen(): void
}

export async function writeAppend(
  context: WriteContext,
  stream: string,
  expected: ExpectedRevision,
  events: readonly ProposedEvent[],
): Promise<AppendResult> {
  context.assertOpen()
  let size = 0
  for (const event of events) size += event.data.byteLength + event.metadata.byteLength
  if (size > context.maxAppendSize) return { kind: 'too-big', max: context.maxAppendSize }
  const decision = decideAppend(
    context.view,
    stream,
    expected,
    events.map((event) => event.id),
  )
  if (decision.kind === 'repeat') {
    await context.writer.waitDurable(Number(decision.result.position) + 1)
    return decision.result
  }
  if (decision.kind !== 'write') return decision
  const { firstRevision } = decision
  if (events.length === 0) {
    const entry = context.index.stream(stream)
    const position = entry?.position(entry.last)
    return { kind: 'ok', firstRevision, nextRevision: firstRevision - 1n, position: BigInt(position ?? -1) }
  }
  const created = context.now()
  const records = appendRecords(stream, firstRevision, events, created)
  if (decision.undelete !== undefined)
    records.unshift(metadataRecord(context.index, stream, decision.undelete, created))
  const last = commit(context, records)
  await context.writer.waitDurable(Number(last.position) + 1)
  return { kind: 'ok', firstRevision, nextRevision: last.revision, position: last.position }
}

/** A soft delete (a `$tb` in the stream's metadata) or, when `hard`, a tombstone. */
export async function writeDelete(
  context: WriteContext,
  stream: string,
  expected: ExpectedRevision,
  hard: boolean,
): Promise<DeleteResult> {
  context.assertOpen()
  const decision = decideDelete(context.view, stream, expected, hard)
  if (decision.kind !== 'delete') return decision
  const created = context.now()
  const record = hard
    ? tombstoneRecord(stream, created)
    : metadataRecord(context.index, stream, SOFT_DELETE_METADATA, created)
  const last = commit(context, [record])
  await context.writer.waitDurable(Number(last.position) + 1)
  return { kind: 'ok', position: last.position }
}

/** The events a fresh database starts with. */
export async function writeSystemEvents(context: WriteContext): Promise<void> {
  const last = commit(context, systemEventsRecords(context.now()))
  await context.writer.waitDurable(Number(last.position) + 1)
}

function commit(context: WriteContext, records: readonly EventToEncode[]): StoredEvent {
  const stored = context.writer.write(records)
  return stored[stored.length - 1] as StoredEvent
}
