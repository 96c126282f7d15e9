import { AnnalsError, type ReadSideLogger } from '../framework/index.ts'
import { pause, retryDelay } from '../framework/internal.ts'
import type { DurableChangeFeed } from './durable-change-feed.ts'
import type { AnySource, ProjectionHost } from './projection-host.ts'
import {
  createProjectionRunner,
  type AnyEngine,
  type ProjectionRunner,
  type ProjectionRunnerOptions,
} from './projection-runner.ts'
import type {
  ReadModelDatabase,
  SharedCheckpoint,
  SharedReadModels,
} from './read-models/read-model-database.ts'

export interface SharedProjectionsOptions {
  readonly sources: readonly AnySource[]
  readonly feeds: ReadonlyMap<string, DurableChangeFeed<unknown>>
  readonly database: ReadModelDatabase & { readonly shared: SharedReadModels }
  readonly runner: Omit<ProjectionRunnerOptions, 'name' | 'engines' | 'afterDispatch'>
  /** This replica's name in the leases. */
  readonly replica: string
  readonly log?: ReadSideLogger
  /** A fresh engine over a shadow table, with the source's definition: a rebuild on deploy builds it. */
  readonly shadowOf: (source: AnySource) => AnyEngine
}

interface Owned {
  readonly fence: bigint
  engine: AnyEngine
  runner: ProjectionRunner | undefined
  paused: boolean
}

/** How a failed read of the checkpoints, once notifications flow, is tried again. */
const CHECKPOINTS_RETRY = { attempts: Infinity, initialDelayMs: 50, maxDelayMs: 2_000 }

/** How often the changes a feed keeps are cut back to its retention. */
const PRUNE_EVERY_MS = 10_000

/**
 * Runs, on this replica, the projections whose lease it holds, each from a subscription of its own, and
 * serves every model from the shared database. A lease is taken when free or expired and renewed a few
 * times per term; every commit is fenced by it, so a replica that was paused past its term (and lost the
 * lease meanwhile) cannot commit once another has taken over. Commits anywhere reach every replica as
 * notifications: they wake the waiters of `consistentWith` and the change feeds' readers.
 */
export function createSharedProjections(options: SharedProjectionsOptions): ProjectionHost {
  const { sources, feeds, database, replica, log } = options
  const { shared } = database
  const owned = new Map<string, Owned>()
  /** Projections a newer version of the service built: this one must not run them. */
  const newer = new Set<string>()
  const known = new Map<string, SharedCheckpoint>()
  /**
   * Models a notification reported since the listener came up. Notifications arrive in commit order, so the
   * last one is the model's checkpoint; the read of the checkpoints runs on another connection and may answer
   * after a newer notification, with the checkpoint from before it, which nothing would correct while the
   * model is idle (a follower would see it catching up for good).
   */
  const heard = new Set<string>()
  let connected = false
  /** Counts the listener's ups and downs: a read of the checkpoints for an earlier one is dropped. */
  let listening = 0
  let stopped = false
  let ticking: Promise<void> | undefined
  let leaseTimer: NodeJS.Timeout | undefined
  let pruneTimer: NodeJS.Timeout | undefined

  for (const source of sources) source.remote = { caughtUp: false, running: false }

  function committed(checkpoint: SharedCheckpoint) {
    const source = sources.find((candidate) => candidate.name === checkpoint.name)
    if (!source) return
    known.set(checkpoint.name, checkpoint)
    source.remote = { caughtUp: checkpoint.caughtUp, running: owned.has(source.name) }
    feeds.get(source.name)?.committed(checkpoint)
    if (checkpoint.held !== undefined) {
      source.observe({ position: checkpoint.position, settled: checkpoint.settled, held: checkpoint.held })
      return
    }
    shared.heldOf(checkpoint.name).then(
      (held) => source.observe({ position: checkpoint.position, settled: checkpoint.settled, held }),
      () => {
        // Unreachable now: the checkpoints are read again when the notifications come back.
      },
    )
  }

  /**
   * Notifications flow (again): the checkpoints committed meanwhile are read before the replica is ready. A
   * read that fails is tried again (with back-off) for as long as the notifications flow: the listener stays
   * up, so nothing else would ever make this replica ready again.
   */
  async function connectedAgain(up: boolean) {
    connected = false
    const session = ++listening
    // Cleared when the notifications stop, not when they start: one may be reported before the listener says so.
    if (!up) return heard.clear()
    for (let failures = 0; !stopped && session === listening;) {
      try {
        const checkpoints = await shared.checkpoints()
        if (session !== listening) return
        for (const checkpoint of checkpoints) if (!heard.has(checkpoint.name)) committed(checkpoint)
        connected = true
        return
      } catch (error) {
        log?.warn({ err: error }, 'projection checkpoints not read; trying again')
        await pause(retryDelay(CHECKPOINTS_RETRY, ++failures))
      }
    }
  }

  async function tick() {
    for (const source of sources) {
      if (stopped) return
      const mine = owned.get(source.name)
      try {
        if (mine) {
          if (!(await shared.renew(source.name, replica, mine.fence))) await lose(source, 'lost its lease')
        } else if (!newer.has(source.name)) {
          const fence = await shared.acquire(source.name, replica)
          if (fence !== undefined) await take(source, fence)
        }
      } catch (error) {
        log?.warn({ projection: source.name, err: error }, 'projection lease not renewed; trying again')
      }
    }
  }

  async function take(source: AnySource, fence: bigint) {
    const entry: Owned = { fence, engine: source.engine, runner: undefined, paused: false }
    owned.set(source.name, entry)
    source.remote = { caughtUp: source.remote?.caughtUp ?? false, running: true }
    // Read after the lease was taken: the checkpoint the last owner's last commit left. A failed read gives
    // the lease back, so a later tick takes it again, here or elsewhere, rather than holding it with nothing run.
    try {
      await entry.engine.open()
    } catch (error) {
      owned.delete(source.name)
      source.remote = { caughtUp: source.remote?.caughtUp ?? false, running: false }
      await shared.release(source.name, replica, fence).catch(() => {})
      throw error
    }
    if (entry.engine.stale === 'newer') {
      newer.add(source.name)
      owned.delete(source.name)
      await shared.release(source.name, replica, fence)
      log?.warn(
        { projection: source.name },
        'a newer version of the service built this projection; not running it',
      )
      return
    }
    log?.info({ projection: source.name, fence: String(fence) }, 'running projection')
    if (entry.engine.stale === 'older') return rebuildOnDeploy(source, entry)
    start(source, entry)
  }

  /** Its definition changed since the rows were built: the old rows serve while a shadow rebuilds them. */
  function rebuildOnDeploy(source: AnySource, entry: Owned) {
    void rebuildIn(source, entry, options.shadowOf(source)).catch((error: unknown) =>
      log?.warn({ projection: source.name, err: error }, 'rebuild on deploy stopped'),
    )
  }

  function start(source: AnySource, entry: Owned) {
    if (entry.paused || entry.runner) return
    entry.runner = createProjectionRunner({
      ...options.runner,
      name: `projection-${source.name}`,
      engines: [entry.engine],
    })
    entry.runner.start()
  }

  async function halt(entry: Owned) {
    const runner = entry.runner
    entry.runner = undefined
    await runner?.stop()
    await entry.engine.drained()
  }

  async function lose(source: AnySource, why: string) {
    const entry = owned.get(source.name)
    if (!entry) return
    owned.delete(source.name)
    source.remote = { caughtUp: source.remote?.caughtUp ?? false, running: false }
    recovered(source)
    log?.warn({ projection: source.name }, `projection stopped here: ${why}`)
    await halt(entry)
  }

  function ownedOrRefuse(source: AnySource): Owned {
    const entry = owned.get(source.name)
    if (!entry) {
      throw new AnnalsError('NOT_FOUND', `Projection ${source.name} runs on another replica; ask that one`)
    }
    return entry
  }

  /** Builds `shadow` on its own subscription and switches to it once it is level with the current model. */
  async function rebuildIn(source: AnySource, entry: Owned, shadow: AnyEngine) {
    const current = entry.engine
    let caughtUp: () => void = () => {}
    let levelled: () => void = () => {}
    const built = new Promise<void>((resolve) => (caughtUp = resolve))
    const level = new Promise<void>((resolve) => (levelled = resolve))
    const check = () => {
      if (!shadow.caughtUp) return
      caughtUp()
      if (entry.runner === undefined && shadow.position >= current.position) levelled()
    }
    const runner = createProjectionRunner({
      ...options.runner,
      name: `rebuild-${source.name}`,
      engines: [shadow],
      afterDispatch: check,
    })
    runner.start()
    try {
      await built
      // The current model stops, so that the shadow can draw level with it before the switch.
      await halt(entry)
      check()
      await level
      await database.switchTo?.(current.store, shadow.store)
    } catch (error) {
      await runner.stop()
      // The current model was stopped for the switch and the lease keeps it here: nothing folds it any more.
      if (owned.get(source.name) === entry && entry.runner === undefined && !entry.paused) {
        source.override = 'failed'
        source.failure = `its rebuild failed: ${error instanceof Error ? error.message : String(error)}`
        log?.error({ projection: source.name, err: error }, 'projection failed: resume or rebuild it')
      }
      throw error
    }
    if (owned.get(source.name) !== entry) return void (await runner.stop())
    source.switchTo(shadow)
    entry.engine = shadow
    entry.runner = runner
    recovered(source)
  }

  /** A projection that failed here runs again, or runs elsewhere now. */
  function recovered(source: AnySource) {
    if (source.override !== 'failed') return
    source.override = undefined
    source.failure = undefined
  }

  return {
    start() {
      shared.listen(
        (checkpoint) => {
          heard.add(checkpoint.name)
          committed(checkpoint)
        },
        (up) => void connectedAgain(up),
      )
      const every = Math.max(20, Math.floor(shared.leaseMs / 3))
      const run = () => {
        if (ticking || stopped) return
        ticking = tick().finally(() => (ticking = undefined))
      }
      run()
      leaseTimer = setInterval(run, every)
      leaseTimer.unref()
      pruneTimer = setInterval(() => {
        for (const source of sources) {
          if (owned.has(source.name))
            void shared.prune(source.name, source.engine.definition.changeRetention).catch(() => {})
        }
      }, PRUNE_EVERY_MS)
      pruneTimer.unref()
    },
    async stop() {
      stopped = true
      clearInterval(leaseTimer)
      clearInterval(pruneTimer)
      await ticking
      await Promise.all(
        [...owned].map(async ([name, entry]) => {
          await halt(entry)
          // Released at once, so another replica takes over without waiting out the term.
          await shared.release(name, replica, entry.fence).catch(() => {})
        }),
      )
      owned.clear()
    },
    pause(source) {
      const entry = ownedOrRefuse(source)
      entry.paused = true
      void halt(entry)
    },
    resume(source) {
      const entry = ownedOrRefuse(source)
      entry.paused = false
      // Rows of an older definition must not be folded on by this one: its failed rebuild starts again instead.
      if (source.override === 'failed' && entry.engine.stale === 'older') rebuildOnDeploy(source, entry)
      else start(source, entry)
      recovered(source)
    },
    async reset(source) {
      const entry = ownedOrRefuse(source)
      await halt(entry)
      await source.restart()
      start(source, entry)
    },
    rebuild(source, shadow) {
      return rebuildIn(source, ownedOrRefuse(source), shadow)
    },
    caughtUp: (source) =>
      owned.has(source.name)
        ? source.engine.caughtUp || (known.get(source.name)?.caughtUp ?? false)
        : (known.get(source.name)?.caughtUp ?? false),
    runsOn: async (source) => (owned.has(source.name) ? undefined : shared.holder(source.name)),
    unready: () => (connected ? [] : ['the read-model database does not answer']),
    position: () => {
      let furthest = 0n
      for (const entry of owned.values())
        if ((entry.runner?.position ?? 0n) > furthest) furthest = entry.runner!.position
      return furthest
    },
    averageEventBytes: () =>
      [...owned.values()].find((entry) => entry.runner)?.runner?.averageEventBytes() ?? 256,
  }
}
