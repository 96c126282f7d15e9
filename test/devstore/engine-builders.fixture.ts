/** Builders shared by the engine's tests. */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Engine, ProposedEvent, ReadStreamOptions, StoredEvent } from '../../devstore/engine/engine.ts'

export function proposed(
  options: { id?: string; type?: string; json?: unknown; bytes?: number } = {},
): ProposedEvent {
  const data =
    options.bytes === undefined
      ? Buffer.from(JSON.stringify(options.json ?? { at: 1 }))
      : Buffer.alloc(options.bytes, 120)
  return {
    id: options.id ?? randomUUID(),
    type: options.type ?? 'Happened',
    data,
    metadata: Buffer.from('{}'),
    contentType: 'application/json',
  }
}

export function many(count: number, type = 'Happened'): ProposedEvent[] {
  return Array.from({ length: count }, () => proposed({ type }))
}

/** Reads a stream into an array, or returns the kind of a read that found none. */
export async function readAllOf(
  engine: Engine,
  stream: string,
  options: Partial<ReadStreamOptions> = {},
): Promise<StoredEvent[] | 'not-found' | 'deleted'> {
  const result = await engine.readStream(stream, {
    direction: options.direction ?? 'forwards',
    fromRevision: options.fromRevision ?? (options.direction === 'backwards' ? 'end' : 'start'),
    maxCount: options.maxCount ?? 1000n,
  })
  return result.kind === 'ok' ? [...result.events] : result.kind
}

export async function revisionsOf(engine: Engine, stream: string, options: Partial<ReadStreamOptions> = {}) {
  const events = await readAllOf(engine, stream, options)
  return typeof events === 'string' ? events : events.map((event) => event.revision)
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8')
}

/** A fresh temporary directory and its removal. */
export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'devstore-engine-'))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}
