import { once } from 'node:events'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'

export interface DevStoreThreadOptions {
  /** Where the log lives (created if missing); default in memory. */
  readonly dataDir?: string
  /** Run the system projections (createDevStore's option of that name); default true. */
  readonly systemProjections?: boolean
}

/** A devstore serving from a worker thread of this process: its address, and how to stop it. */
export interface DevStoreThread {
  readonly connectionString: string
  readonly host: string
  readonly port: number
  /** Called once if the thread ends without being closed (the store is gone; its callers see UNAVAILABLE). */
  onExit(listener: (error: Error) => void): void
  /** Closes the devstore (as DevStore.close does) and ends the thread. */
  close(): Promise<void>
}

/** What the thread tells the thread that started it, once it serves; it ends once the devstore closed. */
export interface DevStoreThreadReady {
  readonly type: 'ready'
  readonly connectionString: string
  readonly host: string
  readonly port: number
}

/**
 * The worker, on the built entry; run from source (the development condition), on the TypeScript entry behind
 * tsx's loader, registered in the thread itself: loader hooks given as `--import` do not reach a worker on
 * Node 20. Without tsx installed, the entry is handed to Node as it is (Node 23.6 and later strip its types).
 */
function spawnThread(options: DevStoreThreadOptions): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./dev-store-thread-entry.js', import.meta.url), { workerData: options })
  }
  const entry = new URL('./dev-store-thread-entry.ts', import.meta.url)
  const tsx = tsxModuleApi()
  if (tsx === undefined) return new Worker(entry, { workerData: options })
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(boot, { eval: true, workerData: options })
}

/** The URL of tsx's ES module API (its CommonJS one cannot find its hooks from an evaluated script). */
function tsxModuleApi(): string | undefined {
  try {
    const api = createRequire(import.meta.url).resolve('tsx/esm/api')
    return pathToFileURL(api.replace(/\.cjs$/, '.mjs')).href
  } catch {
    return undefined
  }
}

/** How long close waits for the devstore to close its log before the thread is terminated. */
const CLOSE_TIMEOUT_MS = 10_000

/**
 * Starts a devstore (createDevStore, loopback, no TLS) on a worker thread of this process: the same zero-setup
 * store, but its appends, log writes, reads, subscriptions and system projections run on a core of their
 * own instead of between the service's requests. Its clients connect over loopback gRPC as to EventStoreDB.
 *
 * @example
 * const devstore = await startDevStoreThread({ dataDir: '.annals/data' })
 * const store = createEventStoreDbStore(devstore.connectionString)
 */
export async function startDevStoreThread(options: DevStoreThreadOptions = {}): Promise<DevStoreThread> {
  const worker = spawnThread(options)
  let closing = false
  let exitListener: ((error: Error) => void) | undefined
  let lost: Error | undefined
  const loseThread = (error: Error) => {
    if (closing || lost) return
    lost = error
    exitListener?.(error)
  }

  const ready = await new Promise<DevStoreThreadReady>((resolve, reject) => {
    const onMessage = (message: DevStoreThreadReady) => {
      if (message.type !== 'ready') return
      settle()
      resolve(message)
    }
    const onError = (error: Error) => {
      settle()
      reject(error)
    }
    const onExit = (code: number) => {
      settle()
      reject(new Error(`The devstore thread exited with code ${code} before it served`))
    }
    const settle = () => {
      worker.off('message', onMessage)
      worker.off('error', onError)
      worker.off('exit', onExit)
    }
    worker.on('message', onMessage)
    worker.once('error', onError)
    worker.once('exit', onExit)
  })
  worker.on('error', loseThread)
  worker.on('exit', (code) => loseThread(new Error(`The devstore thread exited with code ${code}`)))

  return {
    connectionString: ready.connectionString,
    host: ready.host,
    port: ready.port,
    onExit(listener) {
      exitListener = listener
      if (lost) listener(lost)
    },
    async close() {
      if (closing) return
      closing = true
      if (lost) return
      const exited = once(worker, 'exit')
      worker.postMessage('close')
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS).unref(),
      )
      if ((await Promise.race([exited, timeout])) === 'timeout') await worker.terminate()
    },
  }
}
