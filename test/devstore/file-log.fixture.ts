/**
 * The data directory the file-log tests open engines on: a fresh one for each test, removed after it once
 * every engine `start` opened on it is closed; and what those engines logged.
 */
import { join } from 'node:path'
import { afterEach, beforeEach } from 'vitest'
import type { Engine, EngineOptions } from '../../devstore/engine/engine.ts'
import { LOG_FILE, openEngine } from '../../devstore/engine/open-engine.ts'
import { CHECKPOINT_FILE } from '../../devstore/engine/index-checkpoint.ts'
import { tempDir } from './engine-builders.fixture.ts'

/** What the engines opened by `start` logged during the current test. */
export const messages: string[] = []

let dir: ReturnType<typeof tempDir>
const open: Engine[] = []

beforeEach(() => {
  dir = tempDir()
  messages.length = 0
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((engine) => engine.close()))
  dir.remove()
})

/** Opens an engine on the test's data directory, closed after the test. */
export async function start(options: Partial<EngineOptions> = {}): Promise<Engine> {
  const engine = await openEngine({ dataDir: dir.path, log: (message) => messages.push(message), ...options })
  open.push(engine)
  return engine
}

export async function restart(engine: Engine): Promise<Engine> {
  await engine.close()
  return start()
}

export const dataDir = () => dir.path
export const logFile = () => join(dir.path, LOG_FILE)
export const checkpointFile = () => join(dir.path, CHECKPOINT_FILE)
