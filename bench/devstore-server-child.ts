// A devstore bench server in its own process: `devstore-server-child.ts store|projecting|echo <dataDir>`, forked
// with IPC by forkBenchServer. Sends { connectionString } once listening, answers 'stats' with its counters,
// and stops on SIGTERM or when the parent goes away (so a crashed bench leaves no server behind).
import { startBenchServer, type BenchServerKind } from './devstore-bench-servers.ts'

const kind = process.argv[2] as BenchServerKind
const dataDir = process.argv[3] ?? ''
if (process.send === undefined || !['store', 'projecting', 'echo'].includes(kind)) {
  process.stderr.write('usage: forked by forkBenchServer with store|projecting|echo <dataDir>\n')
  process.exit(2)
}

const server = await startBenchServer(kind, dataDir)
let stopping: Promise<void> | undefined
const stop = () =>
  (stopping ??= server.close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench ${kind} server: ${String(error)}\n`)
      process.exit(1)
    },
  ))
process.once('SIGTERM', () => void stop())
process.once('disconnect', () => void stop())
process.on('message', (message) => {
  if (message === 'stats') void server.stats().then((stats) => process.send?.(stats))
})
process.send({ connectionString: server.connectionString })
