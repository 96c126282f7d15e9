import { trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

const query = 'query Levels { tankLevelList(first: 5) { nodes { tankId } } }'

describe('the span of a GET query answered from its compiled document (an SDK in this process)', () => {
  const exporter = new InMemorySpanExporter()
  let gateway: RunningGateway
  beforeAll(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    )
    gateway = await startGateway({ auth: 'none' })
  })
  afterAll(async () => {
    await gateway.close()
    trace.disable()
  })

  it('traces every run of a query, whether mercurius or the compiled document answers it', async () => {
    const compiledBefore = gateway.app.annals.gateway.compiledGets()
    const search = new URLSearchParams({ query, operationName: 'Levels' })
    for (let run = 0; run < 4; run++) {
      const response = await fetch(`${gateway.url}/graphql?${search.toString()}`, {
        headers: { 'x-annals-csrf': '1' },
      })
      expect(response.status).toBe(200)
    }
    // The first two runs go through mercurius (the second compiles it); the others are answered compiled.
    expect(gateway.app.annals.gateway.compiledGets() - compiledBefore).toBe(2)
    const operations = exporter.getFinishedSpans().filter((span) => span.name === 'graphql query')
    expect(operations).toHaveLength(4)
    for (const span of operations)
      expect(span.attributes).toEqual({
        'graphql.operation.type': 'query',
        'graphql.operation.name': 'Levels',
      })
  })
})
