/**
 * `annals ops`: the operations endpoint (/ops/graphql) of a running service from the command line.
 *
 *   annals ops projections | reactors | workflows | ring | store
 *   annals ops pause | resume | rebuild <projection>
 *   annals ops retry | discard <projection|reactor|workflow> <dead-letter-id> [--kind <kind>]
 *
 * Against --url (default http://127.0.0.1:4000), with --token or ANNALS_OPS_TOKEN (the ops token or the
 * cluster secret) as the Bearer token. Tables for people; --json prints the endpoint's answer as it came.
 */
import { AnnalsError, isErrorCode } from '../framework/errors.ts'
import type { CliCommand, CliContext } from './cli-command.ts'
import {
  processorsTable,
  projectionsTable,
  ringTable,
  storeTable,
  type ProcessorRow,
  type ProjectionRow,
  type RingRow,
  type StoreRow,
} from './ops-tables.ts'

const USAGE = `annals ops <action> [arguments] [--url <url>] [--token <token>] [--json]

Reads and drives the operations endpoint (/ops/graphql) of a running Annals service.

Actions:
  projections                      Status, checkpoint, lag and dead letters of every projection
  reactors                         Partitions running on the replica (checkpoint, lag) and dead letters of every reactor
  workflows                        The same for every workflow
  ring                             The replicas of the ring, their states and the aggregates each hosts
  store                            Whether the event store (devstore or EventStoreDB) answers
  pause <projection>               Stop folding events (its rows keep serving)
  resume <projection>              Catch up from the checkpoint, then follow live
  rebuild <projection>             Build a fresh copy from the start of the log and switch to it
  retry <name> <dead-letter-id>    Handle a dead letter's event again (exit 1 when it fails again)
  discard <name> <dead-letter-id>  Give a dead letter's event up for good

Options:
  --url <url>      The service (default http://127.0.0.1:4000).
  --token <token>  The ops token (ANNALS_OPS_TOKEN) or the cluster secret; default ANNALS_OPS_TOKEN.
  --kind <kind>    projection, reactor or workflow: for retry and discard when a name is shared.
  --json           Print the endpoint's answer as JSON.`

const DEAD_LETTER =
  'deadLetters { id key partition workflowId trigger error failedAt event { id type stream position } }'
const PROJECTION = `name status failure caughtUp position eventsBehind secondsBehind eventsProcessed heldEvents version ${DEAD_LETTER}`
const PROCESSOR = `name kind partitions eventsBehind secondsBehind
  partitionStatus { partition position checkpoint eventsBehind secondsBehind } ${DEAD_LETTER}`

const QUERIES = {
  projections: `{ projections { ${PROJECTION} } }`,
  reactors: `{ reactors { ${PROCESSOR} } }`,
  workflows: `{ workflows { ${PROCESSOR} } }`,
  ring: '{ ring { sharded self members { id url state self hostedAggregates } } }',
  store: '{ store { kind description reachable headPosition latencyMs error } }',
} as const

const CONTROLS = {
  pause: 'pauseProjection',
  resume: 'resumeProjection',
  rebuild: 'rebuildProjection',
} as const

const SETTLES = { retry: 'retryDeadLetter', discard: 'discardDeadLetter' } as const

const KINDS: Record<string, string> = { projection: 'PROJECTION', reactor: 'REACTOR', workflow: 'WORKFLOW' }

/** How long one request to the service may take. */
const REQUEST_TIMEOUT_MS = 30_000

export const opsCommand: CliCommand = {
  name: 'ops',
  summary: "Inspect and operate a running service's projections, reactors, workflows and ring",
  usage: USAGE,
  async run(args, context) {
    const parsed = parseArgs(args, context.env)
    if (typeof parsed === 'string') {
      context.stderr.write(`annals ops: ${parsed}\n\n${USAGE}\n`)
      return 2
    }
    const { action, positional, json } = parsed
    const ask = (query: string, variables?: Record<string, unknown>) =>
      request(parsed, context, query, variables)
    const print = (data: Record<string, unknown>, text: string) =>
      context.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : text)

    if (action in QUERIES) {
      const data = await ask(QUERIES[action as keyof typeof QUERIES])
      print(data, render(action, data))
      return 0
    }
    if (action in CONTROLS) {
      const field = CONTROLS[action as keyof typeof CONTROLS]
      const data = await ask(`mutation ($name: String!) { ${field}(name: $name) { ${PROJECTION} } }`, {
        name: positional[0],
      })
      const projection = data[field] as ProjectionRow
      print(data, `${projection.name}: ${projection.status} at position ${projection.position}\n`)
      return 0
    }
    const field = SETTLES[action as keyof typeof SETTLES]
    const data = await ask(
      `mutation ($name: String!, $id: ID!, $kind: HandlerKind) { ${field}(name: $name, id: $id, kind: $kind) { kind name id outcome } }`,
      { name: positional[0], id: positional[1], kind: parsed.kind ?? null },
    )
    const settled = data[field] as { kind: string; name: string; id: string; outcome: string }
    print(
      data,
      `${settled.outcome.toLowerCase()} dead letter ${settled.id} of ${settled.kind.toLowerCase()} ${settled.name}\n`,
    )
    return 0
  },
}

interface OpsArgs {
  readonly action: string
  readonly positional: readonly string[]
  readonly url: string
  readonly token: string | undefined
  readonly kind: string | undefined
  readonly json: boolean
}

function parseArgs(args: readonly string[], env: CliContext['env']): OpsArgs | string {
  const positional: string[] = []
  const values: Record<string, string> = {}
  let json = false
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!
    if (arg === '--json') json = true
    else if (arg === '--url' || arg === '--token' || arg === '--kind') {
      const value = args[++index]
      if (value === undefined || value.startsWith('--')) return `${arg} needs a value`
      values[arg.slice(2)] = value
    } else if (arg.startsWith('--')) return `unknown option ${arg}`
    else positional.push(arg)
  }
  const [action, ...rest] = positional
  if (action === undefined) return 'which action?'
  const arity = action in QUERIES ? 0 : action in CONTROLS ? 1 : action in SETTLES ? 2 : undefined
  if (arity === undefined) return `unknown action ${action}`
  if (rest.length !== arity) {
    return arity === 0
      ? `${action} takes no arguments`
      : arity === 1
        ? `${action} needs the name of a projection`
        : `${action} needs a name and a dead-letter id`
  }
  const url = values['url'] ?? 'http://127.0.0.1:4000'
  if (!/^https?:\/\/[^/]+/.test(url) || !URL.canParse(url)) return `--url must be an http(s) URL, not ${url}`
  const kind = values['kind']
  if (kind !== undefined && !(kind in KINDS)) return '--kind must be projection, reactor or workflow'
  if (kind !== undefined && arity !== 2) return '--kind goes with retry and discard'
  return {
    action,
    positional: rest,
    url: url.replace(/\/+$/, ''),
    token: values['token'] ?? (env['ANNALS_OPS_TOKEN'] || undefined),
    kind: kind === undefined ? undefined : KINDS[kind],
    json,
  }
}

/** POSTs one document to the endpoint; an answer with errors throws the first one's code and message. */
async function request(
  args: OpsArgs,
  context: CliContext,
  query: string,
  variables?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const endpoint = `${args.url}/ops/graphql`
  let response: Response
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(args.token === undefined ? {} : { authorization: `Bearer ${args.token}` }),
      },
      body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
      signal: AbortSignal.any([context.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause
    const reason = [cause?.code, cause?.message].find((text) => typeof text === 'string')
    throw new Error(`cannot reach ${endpoint}: ${reason ?? (error as Error).message}`)
  }
  if (response.status === 404) {
    throw new AnnalsError(
      'NOT_FOUND',
      `${endpoint} does not answer: in production it is served only with ANNALS_OPS_TOKEN or a cluster secret`,
    )
  }
  let body: {
    data?: Record<string, unknown> | null
    errors?: { message: string; extensions?: { code?: string } }[]
  }
  try {
    body = (await response.json()) as typeof body
  } catch (cause) {
    throw new Error(`${endpoint} answered ${response.status} without JSON`, { cause })
  }
  const error = body.errors?.[0]
  if (error) {
    const code = error.extensions?.code ?? 'INTERNAL'
    const hint = code === 'UNAUTHENTICATED' ? ' (pass --token or set ANNALS_OPS_TOKEN)' : ''
    throw new AnnalsError(isErrorCode(code) ? code : 'INTERNAL', `${error.message}${hint}`)
  }
  if (!body.data) throw new Error(`${endpoint} answered ${response.status} without data`)
  return body.data
}

function render(action: string, data: Record<string, unknown>): string {
  switch (action) {
    case 'projections':
      return projectionsTable(data['projections'] as ProjectionRow[])
    case 'reactors':
      return processorsTable(data['reactors'] as ProcessorRow[], 'REACTOR')
    case 'workflows':
      return processorsTable(data['workflows'] as ProcessorRow[], 'WORKFLOW')
    case 'ring':
      return ringTable(data['ring'] as RingRow)
    default:
      return storeTable(data['store'] as StoreRow)
  }
}
