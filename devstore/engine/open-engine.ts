/**
 * Opening an engine: in memory, or on a data directory, which is locked, and whose index is loaded from its
 * checkpoint (if it matches the log) and completed by scanning the log after it, then synced once, so
 * what a killed process wrote but never synced is durable before it is served or checkpointed. A fresh log
 * gets the system events.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Engine, EngineOptions } from './engine.ts'
import { lockDataDir } from './data-dir-lock.ts'
import { DevEngine, type Persistence } from './event-engine.ts'
import { loadIndexCheckpoint } from './index-checkpoint.ts'
import { createMemoryDevice, openFileDevice, type FileDevice } from './log-device.ts'
import { LogIndex } from './log-index.ts'
import { recoverLog } from './recover-log.ts'

export const LOG_FILE = 'devstore.log'

/** Opens (or creates) the engine; with a dataDir it locks the directory and recovers the log. */
export async function openEngine(options: EngineOptions = {}): Promise<Engine> {
  const engine = options.dataDir === undefined ? inMemory(options) : onDisk(options, options.dataDir)
  if (engine.index.eventCount === 0) await engine.writeSystemEvents()
  return engine
}

function inMemory(options: EngineOptions): DevEngine {
  return new DevEngine(createMemoryDevice(), new LogIndex(), options, () => {})
}

function onDisk(options: EngineOptions, dataDir: string): DevEngine {
  const log = options.log ?? (() => {})
  mkdirSync(dataDir, { recursive: true })
  const release = lockDataDir(dataDir, log)
  let device: FileDevice | undefined
  try {
    device = openFileDevice(join(dataDir, LOG_FILE), options.fileSystem)
    const checkpoint = loadIndexCheckpoint(dataDir, device, log)
    const index = checkpoint?.index ?? new LogIndex()
    const recovery = recoverLog(device, index, log, checkpoint?.logEnd ?? 0)
    // Before anything is served or checkpointed: every byte the engine starts with is durable.
    device.syncExisting()
    const persistence: Persistence = { dataDir, checkpointedEvents: index.eventCount - recovery.events }
    return new DevEngine(device, index, options, release, persistence)
  } catch (error) {
    device?.close()
    release()
    throw error
  }
}
