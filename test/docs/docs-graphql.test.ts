// Every GraphQL document in docs/ runs against the service it is written for, as the page shows it.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPowerPlant, type PowerPlant } from '../example/power-plant-harness.ts'
import { describeGraphQLDocuments } from './graphql-documents.fixture.ts'
import { markdownBlocks, repositoryRoot } from './markdown-blocks.fixture.ts'

/** The service each page's documents are written for. */
const services: Record<string, () => Promise<PowerPlant>> = {
  'docs/example-app.md': startPowerPlant,
  'docs/operations.md': startPowerPlant,
  'docs/workflows.md': startPowerPlant,
}

/** Where a page's documents go: the application's schema, or the operations endpoint's. */
const paths: Record<string, string> = { 'docs/operations.md': '/ops/graphql' }

const pages = readdirSync(join(repositoryRoot, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`)
  .filter((page) => markdownBlocks(page, 'graphql').length > 0)

it('knows the service of every page in docs/ that shows GraphQL', () => {
  expect(pages.filter((page) => !(page in services))).toEqual([])
})

for (const page of pages) {
  const start = services[page]
  if (!start) continue
  describe(page, () => {
    let service: PowerPlant | undefined
    beforeAll(async () => {
      service = await start()
    })
    afterAll(() => service?.close())
    describeGraphQLDocuments(page, () => ({
      url: `${service?.url ?? ''}${paths[page] ?? '/graphql'}`,
      wsUrl: service?.wsUrl ?? '',
    }))
  })
}
