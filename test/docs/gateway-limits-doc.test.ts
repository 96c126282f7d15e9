import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { defaultLimits } from '../../framework/graphql/guards/gateway-limits.ts'
import { repositoryRoot } from './markdown-blocks.fixture.ts'

it('lists every gateway limit in docs/graphql.md', () => {
  const page = readFileSync(join(repositoryRoot, 'docs/graphql.md'), 'utf8')
  const rows = new Set([...page.matchAll(/^\| `(\w+)` \|/gm)].map((match) => match[1]))
  expect([...rows].sort()).toEqual(Object.keys(defaultLimits).sort())
})
