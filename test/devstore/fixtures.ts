/**
 * Builders for the devstore's black-box suite: a devstore on a free loopback port and a real
 * @eventstore/db-client connected to it, plus event builders and helpers that read everything.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  EventStoreDBClient,
  jsonEvent,
  type AllStreamResolvedEvent,
  type JSONEventType,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ResolvedEvent,
  UnavailableError,
} from '@eventstore/db-client'
import { afterEach } from 'vitest'
import { createDevStore, type DevStore, type DevStoreOptions } from 'annals/devstore'

export interface Connected {
  readonly store: DevStore
  readonly client: EventStoreDBClient
  /** Another client, for tests that need a second connection (or its own Append path). */
  readonly connect: (connectionString?: string) => EventStoreDBClient
}

const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A devstore and a client, both closed after the test. */
export async function connected(options: DevStoreOptions = {}): Promise<Connected> {
  const store = await createDevStore(options)
  cleanups.push(() => store.close())
  const connect = (connectionString = store.connectionString) => {
    const client = EventStoreDBClient.connectionString(connectionString)
    cleanups.push(() => client.dispose())
    return client
  }
  return { store, client: connect(), connect }
}

/** A fresh data directory, removed after the test, after the devstores `connected` opened on it are closed. */
export async function temporaryDataDir(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'annals-devstore-'))
  cleanups.push(() => rm(folder, { recursive: true, force: true }))
  return folder
}

/** A stream name no other test uses. */
export function streamName(prefix = 'stream'): string {
  return `${prefix}-${randomUUID()}`
}

export function event(type = 'Happened', data: Record<string, unknown> = {}, id?: string) {
  return jsonEvent<JSONEventType>({ type, data, ...(id === undefined ? {} : { id }) })
}

export function events(count: number, type = 'Happened') {
  return Array.from({ length: count }, (_, index) => event(type, { index }))
}

export async function readStream(
  client: EventStoreDBClient,
  stream: string,
  options: ReadStreamOptions = {},
): Promise<ResolvedEvent[]> {
  const result: ResolvedEvent[] = []
  for await (const resolved of client.readStream(stream, options)) result.push(resolved)
  return result
}

export async function readAll(
  client: EventStoreDBClient,
  options: ReadAllOptions = {},
): Promise<AllStreamResolvedEvent[]> {
  const result: AllStreamResolvedEvent[] = []
  for await (const resolved of client.readAll(options)) result.push(resolved)
  return result
}

/** The client reconnects after UNAVAILABLE; an operation that races the reconnect is retried once. */
export async function retryUnavailable<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    if (!(error instanceof UnavailableError)) throw error
    return operation()
  }
}

/** Rejects with the error `promise` rejects with, or fails when it resolves. */
export async function failure(
  promise: Promise<unknown> | (() => Promise<unknown>),
): Promise<Error & Record<string, unknown>> {
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (error) {
    return error as Error & Record<string, unknown>
  }
  throw new Error('Expected a failure, got a success')
}
