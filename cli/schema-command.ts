/**
 * `annals schema`: prints the GraphQL SDL an application serves, without starting it.
 *
 *   annals schema --app example-app/app.ts [--export app] [--out schema.graphql]
 *
 * The app module exports the options it passes to createServer (`export const app = { aggregates,
 * readSide }` or a default export); --export names the export when it is neither `default` nor `app`.
 * The SDL derives from the aggregates' and projections' zod schemas exactly as the running gateway builds
 * it, so a name collision fails here too. It goes to stdout, or to --out.
 */
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { printSchema } from 'graphql'
import type { AnyAggregate } from '../framework/aggregate/define-aggregate.ts'
import { AnnalsError } from '../framework/errors.ts'
import { buildGatewaySchema } from '../framework/graphql/build-gateway-schema.ts'
import type { ReadModelSource } from '../framework/read-model/read-model-source.ts'
import type { ReadSideOption } from '../framework/read-model/read-side.ts'
import type { CliCommand } from './cli-command.ts'

const USAGE = `annals schema --app <module> [--export <name>] [--out <file>]

Prints the GraphQL schema (SDL) of an application without starting it.

  --app <module>    The module that exports the options passed to createServer.
  --export <name>   The export holding them (default: the default export, else "app").
  --out <file>      Write the SDL to a file instead of stdout.`

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
    const sdl = printSchema(buildGatewaySchema({ aggregates: declaration.aggregates, sources }))
    if (options.out) await writeFile(resolve(context.cwd, options.out), `${sdl}\n`)
    else context.stdout.write(`${sdl}\n`)
    return 0
  },
}

function parseArgs(args: readonly string[]): { app: string; exportName?: string; out?: string } | string {
  const values: Record<string, string> = {}
  for (let index = 0; index < args.length; index += 2) {
    const flag = args[index]
    const value = args[index + 1]
    if (flag !== '--app' && flag !== '--export' && flag !== '--out') return `unknown option ${flag}`
    if (value === undefined || value.startsWith('--')) return `${flag} needs a value`
    values[flag.slice(2)] = value
  }
  if (!values['app']) return '--app is required'
  return {
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
