/**
 * `annals schema`: prints the GraphQL SDL an application serves, without starting it, or gates a change.
 *
 *   annals schema --app example-app/app.ts [--export app] [--out schema.graphql]
 *   annals schema --app example-app/app.ts --check schema-snapshot.json   (exit 1 on a breaking change)
 *   annals schema --app example-app/app.ts --write schema-snapshot.json
 *
 * The app module exports the options it passes to createServer (`export const app = { aggregates,
 * readSide }` or a default export); --export names the export when it is neither `default` nor `app`.
 * The SDL derives from the aggregates' and projections' zod schemas exactly as the running gateway builds
 * it, so a name collision fails here too. It goes to stdout, or to --out.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { printSchema } from 'graphql'
import type { AnyAggregate } from '../framework/aggregate/define-aggregate.ts'
import { AnnalsError } from '../framework/errors.ts'
import { buildGatewaySchema } from '../framework/graphql/schema/build-gateway-schema.ts'
import type { ReadModelSource } from '../framework/read-model/read-model-source.ts'
import type { ReadSideOption } from '../framework/read-model/read-side.ts'
import type { CliCommand } from './cli-command.ts'
import { breakingSchemaChanges, takeSchemaSnapshot, type SchemaSnapshot } from './schema-snapshot.ts'

const USAGE = `annals schema --app <module> [--export <name>] [--out <file> | --check <snapshot> | --write <snapshot>]

Prints the GraphQL schema (SDL) of an application without starting it, or compares it and the event
schemas with a committed snapshot.

  --app <module>    The module that exports the options passed to createServer.
  --export <name>   The export holding them (default: the default export, else "app").
  --out <file>      Write the SDL to a file instead of stdout.
  --check <file>    Fail (exit 1) on a change from the snapshot that breaks GraphQL clients or events
                    already stored (an event schema changed without a new version and its upcaster).
  --write <file>    Write the snapshot of the GraphQL schema and the event schemas.`

interface AppDeclaration {
  readonly aggregates: readonly AnyAggregate[]
  readonly readSide?: ReadSideOption
}

export const schemaCommand: CliCommand = {
  name: 'schema',
  summary: 'Print the GraphQL schema (SDL) of an application',
  usage: USAGE,
  async run(args, context) {
    const options = parseArgs(args)
    if (typeof options === 'string') {
      context.stderr.write(`annals schema: ${options}\n\n${USAGE}\n`)
      return 2
    }
    const module = (await import(pathToFileURL(resolve(context.cwd, options.app)).href)) as Record<
      string,
      unknown
    >
    const declaration = pickDeclaration(module, options.exportName, options.app)
    const sources = (declaration.readSide?.models ?? []).map((projection) => sourceShapeOf(projection))
    const schema = buildGatewaySchema({
      aggregates: declaration.aggregates,
      sources,
      scheduledCommands: declaration.readSide?.scheduledCommands === true,
      workflows: declaration.readSide?.workflows ?? [],
    })
    if (options.check !== undefined || options.write !== undefined) {
      const now = takeSchemaSnapshot(schema, declaration.aggregates)
      if (options.write !== undefined) {
        await writeFile(resolve(context.cwd, options.write), `${JSON.stringify(now, null, 2)}\n`)
        return 0
      }
      const before = await readSnapshot(resolve(context.cwd, options.check!))
      const changes = breakingSchemaChanges(before, now)
      if (changes.length === 0) {
        context.stdout.write(`annals schema: no breaking change from ${options.check}\n`)
        return 0
      }
      context.stderr.write(
        `annals schema: ${changes.length} breaking change(s) from ${options.check}:\n` +
          changes.map((change) => `  - ${change}\n`).join(''),
      )
      return 1
    }
    const sdl = printSchema(schema)
    if (options.out) await writeFile(resolve(context.cwd, options.out), `${sdl}\n`)
    else context.stdout.write(`${sdl}\n`)
    return 0
  },
}

interface SchemaArgs {
  readonly app: string
  readonly exportName?: string
  readonly out?: string
  readonly check?: string
  readonly write?: string
}

const FLAGS = ['--app', '--export', '--out', '--check', '--write']

function parseArgs(args: readonly string[]): SchemaArgs | string {
  const values: Record<string, string> = {}
  for (let index = 0; index < args.length; index += 2) {
    const flag = args[index]
    const value = args[index + 1]
    if (flag === undefined || !FLAGS.includes(flag)) return `unknown option ${flag}`
    if (value === undefined || value.startsWith('--')) return `${flag} needs a value`
    values[flag.slice(2)] = value
  }
  if (!values['app']) return '--app is required'
  const outputs = ['out', 'check', 'write'].filter((name) => values[name] !== undefined)
  if (outputs.length > 1) return `--${outputs.join(' and --')} cannot go together`
  return {
    ...(values['check'] ? { check: values['check'] } : {}),
    ...(values['write'] ? { write: values['write'] } : {}),
    app: values['app'],
    ...(values['export'] ? { exportName: values['export'] } : {}),
    ...(values['out'] ? { out: values['out'] } : {}),
  }
}

function pickDeclaration(
  module: Record<string, unknown>,
  exportName: string | undefined,
  path: string,
): AppDeclaration {
  const candidate = exportName ? module[exportName] : (module['default'] ?? module['app'])
  const aggregates = (candidate as { aggregates?: unknown } | undefined)?.aggregates
  if (!Array.isArray(aggregates)) {
    throw new AnnalsError(
      'BAD_CONFIG',
      `${path} has no export ${exportName ?? 'default or app'} with the aggregates passed to createServer`,
    )
  }
  return candidate as AppDeclaration
}

/** A projection as the schema needs it: its name, row schema and key; it is never read from. */
function sourceShapeOf(projection: unknown): ReadModelSource {
  const { name, schema, key, description } = (projection ?? {}) as Partial<ReadModelSource>
  if (typeof name !== 'string' || typeof key !== 'string' || !schema) {
    throw new AnnalsError(
      'BAD_CONFIG',
      'Each projection must come from defineProjection (a name, row schema and key)',
    )
  }
  const unavailable = () => {
    throw new AnnalsError('INTERNAL', 'annals schema does not read projections')
  }
  return {
    name,
    schema: schema,
    key,
    ...(description === undefined ? {} : { description }),
    get: unavailable,
    list: unavailable,
    changes: unavailable,
    waitFor: unavailable,
    status: unavailable,
  }
}

async function readSnapshot(path: string): Promise<SchemaSnapshot> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (cause) {
    throw new AnnalsError('BAD_CONFIG', `${path} is not a snapshot written by annals schema --write`, {
      cause,
    })
  }
  const snapshot = parsed as Partial<SchemaSnapshot> | null
  if (!Array.isArray(snapshot?.graphql) || typeof snapshot?.events !== 'object' || snapshot.events === null) {
    throw new AnnalsError('BAD_CONFIG', `${path} is not a snapshot written by annals schema --write`)
  }
  return snapshot as SchemaSnapshot
}
