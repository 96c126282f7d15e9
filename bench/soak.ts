/**
 * A bounded soak of one example replica: `npm run soak -- --rate 300 --seconds 300 --rest 60`. The example
 * runs as `npm start` does (child process, devstore in process, log on disk); bench/load-driver.ts sends
 * `rate` commands a second from its own process; the replica's /metrics is sampled every second. The heap
 * floor of each minute is the lowest heap in use sampled in it (what is left after the collections in that
 * minute); it is reported with RSS at the start and end of the load and after `rest` seconds idle.
 * `--store apart` runs the devstore (with its system projections) in a process of its own, as EventStoreDB
 * would be in production: the replica's heap then holds the framework alone, not the store's index of the log.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { forkBenchServer, type BenchServer } from './devstore-bench-servers.ts'
import { startExample } from './sustained-load.bench.ts'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '300' },
    rest: { type: 'string', default: '60' },
    batteries: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '64' },
    store: { type: 'string', default: 'in-process' },
  },
})
if (!['in-process', 'apart'].includes(values.store)) throw new Error('--store is in-process or apart')
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10

async function sample(url: string): Promise<{ heap: number; rss: number; external: number } | undefined> {
  const text = await fetch(url).then(
    (reply) => reply.text(),
    () => undefined,
  )
  if (text === undefined) return undefined
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return {
    heap: value('nodejs_heap_size_used_bytes'),
    rss: value('process_resident_memory_bytes'),
    // Buffers' and other backing stores outside the JS heap (what RSS holds beside the heap).
    external: value('nodejs_external_memory_bytes'),
  }
}

const storeDir = values.store === 'apart' ? await mkdtemp(join(tmpdir(), 'annals-soak-store-')) : undefined
const store: BenchServer | undefined = storeDir ? await forkBenchServer('projecting', storeDir) : undefined
const example = await startExample(store ? { EVENTSTORE_URL: store.connectionString } : {})
const { metricsUrl } = example
const samples: { at: number; phase: 'load' | 'rest'; heap: number; rss: number; external: number }[] = []
let phase: 'load' | 'rest' = 'load'
const started = performance.now()
const timer = setInterval(() => {
  void sample(metricsUrl).then((found) => {
    if (found) samples.push({ at: (performance.now() - started) / 1000, phase, ...found })
  })
}, 1000)
try {
  const driver = spawn(
    process.execPath,
    [
      '--conditions=development',
      '--import',
      'tsx',
      'bench/load-driver.ts',
      '--url',
      example.url,
      '--metrics',
      metricsUrl,
      '--rate',
      values.rate,
      '--seconds',
      values.seconds,
      '--batteries',
      values.batteries,
      '--clients',
      values.clients,
    ],
    { cwd: new URL('../', import.meta.url), stdio: ['ignore', 'inherit', 'inherit'] },
  )
  await once(driver, 'exit')
  phase = 'rest'
  await new Promise((resolve) => setTimeout(resolve, Number(values.rest) * 1000))
} finally {
  clearInterval(timer)
  await example.close()
  await store?.close()
  if (storeDir) await rm(storeDir, { recursive: true, force: true })
}

const load = samples.filter((entry) => entry.phase === 'load')
const rest = samples.filter((entry) => entry.phase === 'rest')
/** The lowest sample of each whole minute of load (a last minute of a few seconds has too few to say). */
const floors = (of: 'heap' | 'external') => {
  const minutes = new Map<number, { floor: number; samples: number }>()
  for (const entry of load) {
    const minute = Math.floor(entry.at / 60)
    const found = minutes.get(minute) ?? { floor: Infinity, samples: 0 }
    minutes.set(minute, { floor: Math.min(found.floor, entry[of]), samples: found.samples + 1 })
  }
  return [...minutes.values()]
    .filter(({ samples }) => samples >= 50)
    .map(({ floor }) => mb(floor))
    .join(', ')
}
console.log(`Heap floor per minute of load (MB): ${floors('heap')}`)
console.log(`External memory floor per minute of load (MB): ${floors('external')}`)
console.log(
  `RSS (MB): start ${mb(load[0]?.rss ?? 0)}, end of load ${mb(load.at(-1)?.rss ?? 0)}, after ${values.rest} s at rest ${mb(rest.at(-1)?.rss ?? 0)}`,
)
const half = Math.floor(rest.length / 2)
const floor = (entries: typeof rest) => Math.min(...entries.map((entry) => entry.heap))
console.log(
  `Heap floor at rest (MB): first half ${mb(floor(rest.slice(0, half)))}, second half ${mb(floor(rest.slice(half)))}`,
)
