import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { schemaCommand } from '../../cli/schema-command.ts'
import type { SchemaSnapshot } from '../../cli/schema-snapshot.ts'

const snapshot = 'example-app/schema-snapshot.json'
const changes = 'test/e2e/fixtures/example-event-changes.ts'
const folder = mkdtempSync(join(tmpdir(), 'annals-schema-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

async function schema(args: string[]) {
  const output = { stdout: '', stderr: '' }
  const code = await schemaCommand.run(args, {
    stdout: { write: (text: string) => (output.stdout += text) },
    stderr: { write: (text: string) => (output.stderr += text) },
    env: {},
    cwd: process.cwd(),
    signal: new AbortController().signal,
  })
  return { code, ...output }
}

describe('annals schema --check (the schema-change gate)', () => {
  it('passes the example app against its committed snapshot', async () => {
    const { code, stdout } = await schema(['--app', 'example-app/app.ts', '--check', snapshot])
    expect(code).toBe(0)
    expect(stdout).toContain('no breaking change')
  })

  it('fails an event schema changed at the same version, naming the event and the way out', async () => {
    const { code, stderr } = await schema(['--app', changes, '--export', 'breaking', '--check', snapshot])
    expect(code).toBe(1)
    expect(stderr).toContain(
      'Battery event TelemetryReported changed its schema at version 1: declare it with versionedEvent at version 2',
    )
  })

  it('passes the same change declared as a new version with an upcaster', async () => {
    const { code } = await schema(['--app', changes, '--export', 'upcast', '--check', snapshot])
    expect(code).toBe(0)
  })

  it('fails a GraphQL change that breaks clients, and an event type no longer declared', async () => {
    const before = JSON.parse(readFileSync(snapshot, 'utf8')) as SchemaSnapshot
    const edited: SchemaSnapshot = {
      // A field the current schema no longer has, as if it was removed since.
      graphql: before.graphql.map((line) =>
        line === 'type Query {' ? 'type Query {\n  retired: String' : line,
      ),
      events: { ...before.events, Meter: { MeterRead: { version: 1, schema: {} } } },
    }
    const path = join(folder, 'edited.json')
    writeFileSync(path, JSON.stringify(edited))
    const { code, stderr } = await schema(['--app', 'example-app/app.ts', '--check', path])
    expect(code).toBe(1)
    expect(stderr).toContain('GraphQL FIELD_REMOVED: Query.retired was removed.')
    expect(stderr).toContain('Meter event MeterRead is no longer declared')
  })

  it('writes a snapshot the check then passes', async () => {
    const path = join(folder, 'written.json')
    expect((await schema(['--app', changes, '--export', 'upcast', '--write', path])).code).toBe(0)
    const written = JSON.parse(readFileSync(path, 'utf8')) as SchemaSnapshot
    expect(written.events['Battery']?.['TelemetryReported']?.version).toBe(2)
    expect((await schema(['--app', changes, '--export', 'upcast', '--check', path])).code).toBe(0)
    // From version 2, the old declaration is going back a version.
    const back = await schema(['--app', 'example-app/app.ts', '--check', path])
    expect(back.code).toBe(1)
    expect(back.stderr).toContain('went back from version 2 to 1')
  })
})
