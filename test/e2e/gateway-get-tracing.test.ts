import { trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

const query = 'query Levels { tankLevelList(first: 5) { nodes { tankId } } }'

describe('the span of a GET query (an SDK in this process)', () => {
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

  it('traces every run of a query, the first and the ones graphql-jit answers once it compiled the document', async () => {
    const search = new URLSearchParams({ query, operationName: 'Levels' })
    for (let run = 0; run < 4; run++) {
      const response = await fetch(`${gateway.url}/graphql?${search.toString()}`, {
        headers: { 'x-annals-csrf': '1' },
      })
      expect(response.status).toBe(200)
    }
    const operations = exporter.getFinishedSpans().filter((span) => span.name === 'graphql query')
    expect(operations).toHaveLength(4)
    for (const span of operations)
      expect(span.attributes).toEqual({
        'graphql.operation.type': 'query',
        'graphql.operation.name': 'Levels',
      })
  })
})
