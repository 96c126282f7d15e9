/**
 * Rebuilds the index by scanning the log. A record whose length runs past the end of the file or whose
 * checksum fails ends the scan; the log is cut back to the end of the last whole commit, so nothing
 * half-written is ever served, and the cut is logged.
 */
import type { FileDevice } from './log-device.ts'
import type { LogIndex } from './log-index.ts'
import {
  MAX_PAYLOAD_BYTES,
  PAYLOAD_FIXED_BYTES,
  RECORD_HEADER_BYTES,
  isChecksumValid,
  summarizeRecord,
  type RecordSummary,
} from './record-codec.ts'

const CHUNK_BYTES = 8 * 1024 * 1024

export interface Recovery {
  readonly events: number
  /** Bytes cut from the tail (0 for a clean log). */
  readonly cutBytes: number
}

export function recoverLog(device: FileDevice, index: LogIndex, log: (message: string) => void): Recovery {
  const size = device.initialSize
  let chunk: Buffer = Buffer.alloc(0)
  let chunkStart = 0
  let offset = 0
  let committedEnd = 0
  let commit: (RecordSummary & { position: number })[] = []
  while (offset < size) {
    if (offset + RECORD_HEADER_BYTES > chunkStart + chunk.length) {
      ;[chunk, chunkStart] = [device.read(offset, CHUNK_BYTES), offset]
    }
    if (offset + RECORD_HEADER_BYTES > chunkStart + chunk.length) break
    const payloadLength = chunk.readUInt32LE(offset - chunkStart)
    if (payloadLength < PAYLOAD_FIXED_BYTES || payloadLength > MAX_PAYLOAD_BYTES) break
    const total = RECORD_HEADER_BYTES + payloadLength
    if (offset + total > size) break
    if (offset + total > chunkStart + chunk.length) {
      ;[chunk, chunkStart] = [device.read(offset, Math.max(CHUNK_BYTES, total)), offset]
    }
    const at = offset - chunkStart
    if (!isChecksumValid(chunk, at, payloadLength)) break
    commit.push({ ...summarizeRecord(chunk, at), position: offset })
    offset += total
    if (commit[commit.length - 1]?.endOfCommit === true) {
      for (const record of commit)
        index.add(record.stream, record.position, record.idHash, record.isTombstone)
      commit = []
      committedEnd = offset
    }
  }
  const cutBytes = size - committedEnd
  if (cutBytes > 0) {
    log(`devstore: cut ${cutBytes} bytes of torn tail at offset ${committedEnd}`)
    device.truncate(committedEnd)
  }
  return { events: index.eventCount, cutBytes }
}
