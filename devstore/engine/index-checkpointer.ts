/**
 * When a file-backed engine writes its index checkpoint (index-checkpoint.ts): once enough durable events are
 * not covered by the last one, off the call that made them durable, and on close. A checkpoint that cannot
 * be written is logged, not thrown: the engine goes on, and the next restart scans more of the log.
 */
import { writeIndexCheckpoint } from './index-checkpoint.ts'
import type { LogDevice } from './log-device.ts'
import type { LogIndex } from './log-index.ts'

/** Where a file-backed engine keeps its index checkpoint, and how many events it covers. */
export interface Persistence {
  readonly dataDir: string
  checkpointedEvents: number
}

/** What a checkpoint is taken of: the engine's index, its log and how much of the log is durable. */
export interface CheckpointedLog {
  readonly index: LogIndex
  readonly device: LogDevice
  readonly durableEnd: number
  readonly durableCount: number
}

export interface IndexCheckpointerOptions {
  readonly persistence: Persistence
  readonly source: CheckpointedLog
  /** A scheduled checkpoint is not written once the engine is closing (close writes its own). */
  readonly isClosed: () => boolean
  readonly log: (message: string) => void
}

export class IndexCheckpointer {
  private scheduled = false

  constructor(private readonly options: IndexCheckpointerOptions) {}

  /** Once `after` events are not covered by the index checkpoint, writes one (off the current call). */
  soon(after: number): void {
    const { persistence, source, isClosed } = this.options
    if (this.scheduled) return
    if (source.durableCount - persistence.checkpointedEvents < after) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      if (!isClosed()) this.write()
    })
  }

  /** Writes a checkpoint of the durable part of the log, unless the last one already covers it. */
  write(): void {
    const { persistence, source, log } = this.options
    const events = source.index.countBelow(source.durableEnd)
    if (events === persistence.checkpointedEvents) return
    try {
      writeIndexCheckpoint(persistence.dataDir, source.index, source.device, source.durableEnd)
      persistence.checkpointedEvents = events
    } catch (error) {
      log(`devstore: could not write the index checkpoint: ${String(error)}`)
    }
  }
}
