import { trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TRACEPARENT_KEY } from 'annals'
import { startDevStoreGateway, type DevStoreGateway } from './fixtures/start-devstore-gateway.ts'
import { tankFeed } from './fixtures/tank-feed.ts'

const traceId = '0af7651916cd43dd8448eb211c80319c'
const commandSpanId = 'b7ad6b7169203331'

describe('the span of an aggregate feed frame (an SDK with an in-memory exporter in this process)', () => {
  const exporter = new InMemorySpanExporter()
  let gateway: DevStoreGateway
  beforeAll(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    )
    gateway = await startDevStoreGateway()
  })
  afterAll(async () => {
    await gateway.close()
    trace.disable()
  })

  it("continues the trace stored with a live event's metadata, and gives the history none", async () => {
    await gateway.fill('traced', 1)
    const feed = tankFeed(gateway.wsUrl, 'traced')
    // Its history taken, the feed has joined the shared subscription: the next event comes live.
    expect(await feed.litres(1)).toEqual([1])
    const { position } = await gateway.store.appendToStream('Tank-traced', [
      {
        id: crypto.randomUUID(),
        type: 'TankFilled',
        data: { site: 's', litres: 2 },
        metadata: { [TRACEPARENT_KEY]: `00-${traceId}-${commandSpanId}-01` },
      },
    ])
    expect(await feed.litres(1)).toEqual([2])

    const frames = () => exporter.getFinishedSpans().filter((span) => span.name === 'subscription tankEvents')
    // The span ends when the subscription comes back for the next frame, just after this one was sent.
    await vi.waitFor(() => expect(frames()).toHaveLength(1))
    const [frame] = frames()
    expect(frame!.spanContext().traceId).toBe(traceId)
    expect(frame!.parentSpanContext?.spanId).toBe(commandSpanId)
    expect(frame!.attributes).toEqual({ 'annals.feed': 'tankEvents', 'annals.position': String(position) })
    await feed.close()
  })
})
