// docs/configuration.md lists exactly the variables the server's and sharding's zod schemas read.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { clusterEnvironmentNames, ServerEnvironment } from 'annals'
import { describe, expect, it } from 'vitest'
import { repositoryRoot } from './markdown-blocks.fixture.ts'

const page = readFileSync(join(repositoryRoot, 'docs/configuration.md'), 'utf8')

/** The variable names in the first column of the table under a `## heading`. */
function tableNames(heading: string): string[] {
  const section = page.split(/^## /m).find((part) => part.startsWith(`${heading}\n`)) ?? ''
  return [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1]!)
}

describe('docs/configuration.md', () => {
  it("lists every variable of the server's schema, and no other, once", () => {
    const names = tableNames('The server')
    expect(new Set(names).size).toBe(names.length)
    expect([...names].sort()).toEqual(Object.keys(ServerEnvironment.shape).sort())
  })

  it("lists every variable of sharding's schema, and no other, once", () => {
    const names = tableNames('Sharding')
    expect(new Set(names).size).toBe(names.length)
    expect([...names].sort()).toEqual([...clusterEnvironmentNames].sort())
  })
})
