// The worker thread of startDevStoreThread: serves a devstore until told to close, then ends.
import { parentPort, workerData } from 'node:worker_threads'
import { createDevStore } from './create-dev-store.ts'
import type { DevStoreThreadOptions, DevStoreThreadReady } from './dev-store-thread.ts'

const port = parentPort
if (port === null) throw new Error('dev-store-thread-entry runs as a worker thread (startDevStoreThread)')
const options = workerData as DevStoreThreadOptions
const devstore = await createDevStore({
  ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
  ...(options.systemProjections === undefined ? {} : { systemProjections: options.systemProjections }),
})
const ready: DevStoreThreadReady = {
  type: 'ready',
  connectionString: devstore.connectionString,
  host: devstore.host,
  port: devstore.port,
}
port.once('message', () => {
  // Once the log is closed the thread has nothing left to run, and ends.
  void devstore.close().finally(() => port.close())
})
port.postMessage(ready)
