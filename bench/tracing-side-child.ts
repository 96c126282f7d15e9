// One side of the tracing-cost benchmark in a process of its own: `tracing-side-child.ts off|bypassed|sdk`,
// forked with IPC by tracing-cost.bench.ts. Its tracing is set before anything is built: `off` registers
// nothing (as a service without tracing runs), `bypassed` calls bypassTracing, `sdk` registers the
// NodeTracerProvider with a batch processor and an exporter that drops every span. It runs the command bus
// on request and serves the list-query gateway; it stops when the parent goes away.
import { randomUUID } from 'node:crypto'
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-node'
import { createCommandBus } from '../framework/command/create-command-bus.ts'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import { bypassTracing } from '../framework/tracing/tracer.ts'
import { counterAggregate } from '../test/support/counter.fixture.ts'
import { cpuMicros } from './devstore-bench-servers.ts'
import { startBenchServers } from './graphql-bench-fixture.ts'

export type TracingSide = 'off' | 'bypassed' | 'sdk'

export type SideRequest =
  | { readonly id: number; readonly kind: 'commands'; readonly count: number }
  | { readonly id: number; readonly kind: 'cpu' }

export type SideReply = { readonly id: number; readonly ms?: number; readonly cpuMicros: number }

/** Rows of the list query's read model. */
const LIST_ROWS = 500

const side = process.argv[2] as TracingSide
if (process.send === undefined || !['off', 'bypassed', 'sdk'].includes(side)) {
  process.stderr.write('usage: forked by tracing-cost.bench.ts with off|bypassed|sdk\n')
  process.exit(2)
}

/** Where spans go when their cost, not their content, is measured. */
const droppingExporter: SpanExporter = {
  export(_spans: ReadableSpan[], done) {
    done({ code: 0 })
  },
  shutdown: () => Promise.resolve(),
}

if (side === 'bypassed') bypassTracing()
if (side === 'sdk')
  new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] }).register()

const Counter = counterAggregate()
const bus = createCommandBus({ store: createInMemoryEventStore(), aggregates: [Counter] })
// No load shedding: a neighbour's burst on the shared machine must not answer one side's requests with 503.
const servers = await startBenchServers({ maxEventLoopDelayMs: 0 })
for (let n = 0; n < LIST_ROWS; n++) {
  const event = { id: randomUUID(), type: 'TankFilled', data: { site: 'bench', litres: n + 1 } }
  const { position } = await servers.store.appendToStream(`Tank-row${n}`, [event])
  if (n === LIST_ROWS - 1) await servers.gateway.annals.readSide!.sources[0]!.waitFor(position, 10_000)
}

/** One caller, one aggregate held in memory: the command-pipeline bench's in-memory side. */
async function commands(count: number): Promise<{ ms: number; cpuMicros: number }> {
  const cpuBefore = cpuMicros()
  const started = performance.now()
  for (let i = 0; i < count; i++)
    await bus.execute({ aggregate: 'Counter', command: 'increment', aggregateId: 'hot', input: { by: 1 } })
  return { ms: performance.now() - started, cpuMicros: cpuMicros() - cpuBefore }
}

process.on('message', (request: SideRequest) => {
  const answer =
    request.kind === 'commands' ? commands(request.count) : Promise.resolve({ cpuMicros: cpuMicros() })
  void answer.then((reply) => process.send?.({ id: request.id, ...reply } satisfies SideReply))
})
process.once('disconnect', () => {
  bus.close()
  void servers.close().then(() => process.exit(0))
})
process.send({ ready: true, url: servers.gatewayUrl })
