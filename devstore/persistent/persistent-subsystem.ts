import { randomUUID } from 'node:crypto'
import type { Engine } from '../engine/engine.ts'
import { decodeConfig, encodeConfig } from './group-config.ts'
import { GroupRuntime } from './group-runtime.ts'
import { CONFIG_EVENT_TYPE, CONFIG_STREAM, groupKey, type GroupDefinition } from './group-settings.ts'
import { GroupStreams } from './group-streams.ts'
import {
  notReady,
  subscriptionDropped,
  subscriptionExists,
  subscriptionMissing,
} from './persistent-errors.ts'

/**
 * Every subscription group of one devstore. Definitions live in the event log: each change appends a
 * `$PersistentConfig` snapshot of all groups to `$persistentSubscriptionConfig`, and opening reads the
 * last one back, so groups survive restarts and nothing else can drift. Changes run one at a time.
 *
 * @example
 * const subsystem = await PersistentSubsystem.open(engine)
 * await subsystem.create(definition)
 */
export class PersistentSubsystem {
  private groups = new Map<string, GroupRuntime>()
  private queue: Promise<unknown> = Promise.resolve()
  private readonly unsubscribe: () => void
  private closed = false
  /** Settles once the groups were loaded from the log (rejects if the engine closed first). */
  readonly ready: Promise<void>

  private constructor(private readonly engine: Engine) {
    this.unsubscribe = engine.subscribe((events) => {
      for (const runtime of this.groups.values()) {
        if (runtime.concerns(events)) runtime.wake()
      }
    })
    this.ready = this.serially(() => this.startAll())
    this.ready.catch(() => undefined)
  }

  /** Starts loading the groups from the log, each from its checkpoint; await `ready` before use. */
  static start(engine: Engine): PersistentSubsystem {
    return new PersistentSubsystem(engine)
  }

  /** Loads the groups from the log and starts each from its checkpoint. */
  static async open(engine: Engine): Promise<PersistentSubsystem> {
    const subsystem = new PersistentSubsystem(engine)
    await subsystem.ready
    return subsystem
  }

  get(stream: string, group: string): GroupRuntime | undefined {
    return this.groups.get(groupKey(stream, group))
  }

  /** The running groups, of one stream (or `$all`) when given. */
  list(stream?: string): GroupRuntime[] {
    const all = [...this.groups.values()]
    return stream === undefined ? all : all.filter((runtime) => runtime.definition.stream === stream)
  }

  create(definition: GroupDefinition): Promise<void> {
    return this.serially(async () => {
      if (this.get(definition.stream, definition.group) !== undefined) {
        throw subscriptionExists(definition.stream, definition.group)
      }
      await this.saveConfig([...this.definitions(), definition])
      this.groups.set(
        groupKey(definition.stream, definition.group),
        await GroupRuntime.start(this.engine, definition),
      )
    })
  }

  /** Replaces a group's settings; its consumers are dropped and it restarts from its checkpoint. */
  update(definition: GroupDefinition): Promise<void> {
    return this.serially(async () => {
      const key = groupKey(definition.stream, definition.group)
      const current = this.groups.get(key)
      if (current === undefined) throw subscriptionMissing(definition.stream, definition.group)
      const filter = definition.filter ?? current.definition.filter
      const updated: GroupDefinition = { ...definition, ...(filter === undefined ? {} : { filter }) }
      await current.stop(subscriptionDropped(definition.stream, definition.group, 'the group was updated'))
      await this.saveConfig(
        this.definitions().map((existing) => (existing === current.definition ? updated : existing)),
      )
      this.groups.set(key, await GroupRuntime.start(this.engine, updated))
    })
  }

  /** Deletes a group, drops its consumers and removes its checkpoint and parked streams. */
  delete(stream: string, group: string): Promise<void> {
    return this.serially(async () => {
      const key = groupKey(stream, group)
      const current = this.groups.get(key)
      if (current === undefined) throw subscriptionMissing(stream, group)
      this.groups.delete(key)
      await current.stop(subscriptionDropped(stream, group, 'the group was deleted'))
      await this.saveConfig(this.definitions())
      await new GroupStreams(this.engine, current.definition).remove()
    })
  }

  async replayParked(stream: string, group: string, stopAt: bigint | undefined): Promise<void> {
    await this.ready
    const runtime = this.get(stream, group)
    if (runtime === undefined) throw subscriptionMissing(stream, group)
    await runtime.replayParked(stopAt)
  }

  /** Drops every consumer, then reloads every group from the log and its checkpoint. */
  restart(): Promise<void> {
    return this.serially(async () => {
      await this.stopAll('the subsystem restarted')
      await this.startAll()
    })
  }

  /** Stops every group (writing last checkpoints) and stops listening to the engine. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.unsubscribe()
    await this.serially(() => this.stopAll('the server is shutting down'), true)
  }

  private definitions(): GroupDefinition[] {
    return [...this.groups.values()].map((runtime) => runtime.definition)
  }

  private async startAll(): Promise<void> {
    const result = await this.engine.readStream(CONFIG_STREAM, {
      direction: 'backwards',
      fromRevision: 'end',
      maxCount: 1,
    })
    const groups = new Map<string, GroupRuntime>()
    if (result.kind === 'ok') {
      for (const event of result.events) {
        const data: unknown = JSON.parse(Buffer.from(event.data).toString('utf8'))
        for (const definition of decodeConfig(data)) {
          groups.set(
            groupKey(definition.stream, definition.group),
            await GroupRuntime.start(this.engine, definition),
          )
        }
      }
    }
    this.groups = groups
  }

  private async stopAll(reason: string): Promise<void> {
    const running = [...this.groups.values()]
    this.groups = new Map()
    await Promise.all(
      running.map((runtime) =>
        runtime.stop(subscriptionDropped(runtime.definition.stream, runtime.definition.group, reason)),
      ),
    )
  }

  private async saveConfig(definitions: readonly GroupDefinition[]): Promise<void> {
    const data = Buffer.from(JSON.stringify(encodeConfig(definitions, new Date())), 'utf8')
    await this.engine.append(CONFIG_STREAM, 'any', [
      {
        id: randomUUID(),
        type: CONFIG_EVENT_TYPE,
        data,
        metadata: new Uint8Array(),
        contentType: 'application/json',
      },
    ])
  }

  private serially<T>(operation: () => Promise<T>, evenWhenClosed = false): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed && !evenWhenClosed) throw notReady('The persistent subscriptions subsystem is closed.')
      return operation()
    })
    this.queue = run.catch(() => undefined)
    return run
  }
}
