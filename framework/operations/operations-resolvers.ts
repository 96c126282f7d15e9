import { AnnalsError, isErrorCode } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { ProjectionStatus } from '../read-model/read-model-source.ts'
import type { ReadSide } from '../read-model/read-side.ts'
import type {
  DeadLetterView,
  ProcessorOperations,
  ProjectionOperations,
} from '../read-model/read-side-operations.ts'
import type { Cluster } from '../sharding/cluster.ts'
import { OPERATIONS_PATH } from './operations-schema.ts'

/** What the operations endpoint reads and drives: the parts of one running replica. */
export interface OperationsTarget {
  readonly readSide: ReadSide | undefined
  readonly cluster: Cluster | undefined
  readonly store: EventStore
  readonly storeKind: 'devstore' | 'eventstoredb' | 'given'
  readonly storeDescription: string
  /** This replica's URL, for the ring of a service that is not sharded. */
  readonly selfUrl: () => string
  /** Aggregates held in memory on this replica. */
  readonly hostedAggregates: () => number
  /** Where a rebuild that fails after the mutation answered is reported. */
  readonly onRebuildFailed: (projection: string, error: unknown) => void
}

type HandlerKind = 'PROJECTION' | 'REACTOR' | 'WORKFLOW'

/** What each request passes its resolvers: where an operator's action is recorded (info, with the request id). */
export interface OperationsContext {
  readonly log: { info(object: Record<string, unknown>, message: string): void }
  /** The request came from a replica that forwarded it: it runs here or nowhere. */
  readonly forwarded?: boolean
}

/** How long the replica that runs a projection may take to answer a forwarded control. */
const FORWARD_TIMEOUT_MS = 10_000
/** What a forwarded control asks back: every field of a Projection, so any selection can be answered. */
const PROJECTION_FIELDS = `name status failure caughtUp position eventsBehind secondsBehind eventsProcessed
  heldEvents version deadLetters { id key partition workflowId trigger attempts error failedAt
  event { id type stream position } }`

/** How long the store may take to answer the health query. */
const STORE_TIMEOUT_MS = 2000
/** Names and ids longer than this are refused before any lookup. */
const MAX_NAME_LENGTH = 200

/**
 * The root value of the operations schema (operations-schema.ts): each field a function of its arguments.
 * Every name and id is checked against what runs: an unknown one is NOT_FOUND, a malformed one BAD_INPUT.
 */
export function createOperationsResolvers(target: OperationsTarget) {
  const { readSide } = target

  const projectionNames = () => readSide?.sources.map((source) => source.name) ?? []
  const reactorNames = () => readSide?.reactorNames ?? []
  const workflowNames = () => readSide?.workflows ?? []

  function projectionOf(name: string): ProjectionOperations {
    checkText('name', name)
    const source = readSide?.sources.find((candidate) => candidate.name === name)
    if (!source) throw new AnnalsError('NOT_FOUND', `No projection is named ${name}`)
    if (!readSide?.projection) {
      throw new AnnalsError('NOT_FOUND', 'This read side offers no operations on its projections')
    }
    return readSide.projection(name)
  }

  function processorOf(kind: 'REACTOR' | 'WORKFLOW', name: string): ProcessorOperations {
    checkText('name', name)
    const names = kind === 'REACTOR' ? reactorNames() : workflowNames()
    const operations =
      !names.includes(name) || !readSide
        ? undefined
        : kind === 'REACTOR'
          ? readSide.reactor?.(name)
          : readSide.workflow?.(name)
    if (!operations) throw new AnnalsError('NOT_FOUND', `No ${kind.toLowerCase()} is named ${name}`)
    return operations
  }

  function projectionView(name: string) {
    const operations = projectionOf(name)
    const status = operations.status()
    return {
      name,
      status: runStatus(status, operations.rebuilding()),
      failure: status.failure ?? null,
      caughtUp: status.state === 'live',
      position: String(status.position),
      eventsBehind: status.eventsBehind,
      secondsBehind: status.millisecondsBehind / 1000,
      eventsProcessed: status.eventsProcessed,
      heldEvents: status.heldEvents ?? 0,
      version: status.version,
      deadLetters: () => operations.deadLetters().map(deadLetterView),
    }
  }

  function processorView(kind: 'REACTOR' | 'WORKFLOW', name: string) {
    const operations = processorOf(kind, name)
    const statuses = operations.partitionStatuses()
    return {
      name,
      kind,
      partitions: () => operations.partitions(),
      partitionStatus: statuses.map((status) => ({
        partition: status.partition,
        position: String(status.position),
        checkpoint: status.checkpoint === undefined ? null : String(status.checkpoint),
        eventsBehind: status.eventsBehind,
        secondsBehind: status.millisecondsBehind / 1000,
      })),
      eventsBehind: statuses.reduce((sum, status) => sum + status.eventsBehind, 0),
      secondsBehind: Math.max(0, ...statuses.map((status) => status.millisecondsBehind)) / 1000,
      deadLetters: async () => (await operations.deadLetters()).map(deadLetterView),
    }
  }

  /** The one handler a name (and an optional kind) names among projections, reactors and workflows. */
  function handlerOf(name: string, kind: HandlerKind | undefined) {
    checkText('name', name)
    const kinds: HandlerKind[] = []
    if (projectionNames().includes(name)) kinds.push('PROJECTION')
    if (reactorNames().includes(name)) kinds.push('REACTOR')
    if (workflowNames().includes(name)) kinds.push('WORKFLOW')
    const chosen = kind ?? kinds[0]
    if (chosen === undefined || !kinds.includes(chosen)) {
      const what = kind === undefined ? 'projection, reactor or workflow' : kind.toLowerCase()
      throw new AnnalsError('NOT_FOUND', `No ${what} is named ${name}`)
    }
    if (kind === undefined && kinds.length > 1) {
      throw new AnnalsError(
        'BAD_INPUT',
        `${name} names a ${kinds.map((k) => k.toLowerCase()).join(' and a ')}; pass kind to say which`,
      )
    }
    return chosen === 'PROJECTION'
      ? { kind: chosen, operations: projectionOf(name) }
      : { kind: chosen, operations: processorOf(chosen, name) }
  }

  /**
   * Runs a projection's control where the projection runs: here, or (read models in a shared database) on the
   * replica holding its lease, forwarded once over the cluster's channel and answered with its view there.
   */
  async function control(
    mutation: 'pauseProjection' | 'resumeProjection' | 'rebuildProjection',
    name: string,
    context: OperationsContext,
    act: (operations: ProjectionOperations) => void | Promise<void>,
  ) {
    const operations = projectionOf(name)
    const { cluster } = target
    const holder = cluster && !context.forwarded ? await operations.runsOn() : undefined
    if (cluster && holder !== undefined) {
      context.log.info({ projection: name, replica: holder }, `ops: ${mutation} forwarded`)
      return forwardControl(cluster, holder, mutation, name)
    }
    await act(operations)
    return projectionView(name)
  }

  async function settle(args: SettleArgs, outcome: 'RETRIED' | 'DISCARDED') {
    const { name, id } = args
    checkText('id', id)
    const { kind, operations } = handlerOf(name, args.kind ?? undefined)
    const letters = await operations.deadLetters()
    if (!letters.some((letter) => letter.id === id)) {
      throw new AnnalsError('NOT_FOUND', `${name} has no dead letter ${id}`)
    }
    if (outcome === 'DISCARDED') await operations.discardDeadLetter(id)
    else if (!(await operations.retryDeadLetter(id))) {
      throw new AnnalsError(
        'RETRY_FAILED',
        `The event of dead letter ${id} failed again; it stays a dead letter`,
      )
    }
    return { kind, name, id, outcome }
  }

  return {
    projections: () => projectionNames().map(projectionView),
    projection: ({ name }: { name: string }) => projectionView(name),
    reactors: () => reactorNames().map((name) => processorView('REACTOR', name)),
    workflows: () => workflowNames().map((name) => processorView('WORKFLOW', name)),
    ring: async () => {
      const { cluster } = target
      if (!cluster) {
        const url = target.selfUrl()
        return {
          sharded: false,
          self: url,
          members: [
            { id: url, url, state: 'ALIVE', self: true, hostedAggregates: target.hostedAggregates() },
          ],
        }
      }
      const members = await cluster.ring()
      return {
        sharded: true,
        self: cluster.status().self,
        members: members.map((member) => ({ ...member, state: member.state.toUpperCase() })),
      }
    },
    store: () => storeHealth(target),

    pauseProjection: ({ name }: { name: string }, context: OperationsContext) =>
      control('pauseProjection', name, context, (operations) => {
        operations.pause()
        context.log.info({ projection: name }, 'ops: projection paused')
      }),
    resumeProjection: ({ name }: { name: string }, context: OperationsContext) =>
      control('resumeProjection', name, context, (operations) => {
        operations.resume()
        context.log.info({ projection: name }, 'ops: projection resumed')
      }),
    rebuildProjection: ({ name }: { name: string }, context: OperationsContext) =>
      control('rebuildProjection', name, context, async (operations) => {
        if (operations.rebuilding()) return
        await startRebuild(name, operations, target)
        context.log.info({ projection: name }, 'ops: projection rebuild started')
      }),
    retryDeadLetter: async (args: SettleArgs, context: OperationsContext) => {
      const settled = await settle(args, 'RETRIED')
      context.log.info({ ...settled }, 'ops: dead letter retried')
      return settled
    },
    discardDeadLetter: async (args: SettleArgs, context: OperationsContext) => {
      const settled = await settle(args, 'DISCARDED')
      context.log.info({ ...settled }, 'ops: dead letter discarded')
      return settled
    },
  }
}

interface SettleArgs {
  readonly name: string
  readonly id: string
  readonly kind?: HandlerKind | null
}

/**
 * Starts a rebuild and answers once it runs: a refusal (another replica runs the projection, a changed
 * definition) comes back to the caller; a failure after that goes to the log, the rebuild taking as long as
 * the log is long.
 */
async function startRebuild(name: string, operations: ProjectionOperations, target: OperationsTarget) {
  const running = operations.rebuild()
  const started = new Promise<'started'>((resolve) => setImmediate(() => resolve('started')))
  const first = await Promise.race([running.then(() => 'done' as const), started])
  if (first === 'started') running.catch((error: unknown) => target.onRebuildFailed(name, error))
}

/** Sends a projection's control to the replica that runs it; its answer, or its error with its code. */
async function forwardControl(cluster: Cluster, url: string, mutation: string, name: string) {
  const reply = await cluster.postToMember(
    url,
    OPERATIONS_PATH,
    {
      query: `mutation ($name: String!) { projection: ${mutation}(name: $name) { ${PROJECTION_FIELDS} } }`,
      variables: { name },
      forwardedBy: cluster.status().self,
    },
    FORWARD_TIMEOUT_MS,
  )
  const body = reply.body as
    | {
        data?: { projection?: unknown } | null
        errors?: { message: string; extensions?: { code?: string } }[]
      }
    | undefined
  const error = body?.errors?.[0]
  if (error) {
    const code = error.extensions?.code ?? 'INTERNAL'
    throw new AnnalsError(isErrorCode(code) ? code : 'INTERNAL', `${url}: ${error.message}`)
  }
  if (!body?.data?.projection) {
    throw new AnnalsError('OWNER_UNAVAILABLE', `${url} answered ${reply.status} without the projection`)
  }
  return body.data.projection
}

function runStatus(status: ProjectionStatus, rebuilding: boolean): string {
  if (rebuilding) return 'REBUILDING'
  switch (status.state) {
    case 'paused':
      return 'PAUSED'
    case 'failed':
      return 'FAILED'
    case 'stopped':
      return 'STOPPED'
    default:
      return 'RUNNING'
  }
}

function deadLetterView(letter: DeadLetterView) {
  const { eventId, eventType, streamName, position } = letter
  return {
    id: letter.id,
    event:
      eventId === undefined || eventType === undefined || streamName === undefined || position === undefined
        ? null
        : { id: eventId, type: eventType, stream: streamName, position: String(position) },
    key: letter.key ?? null,
    partition: letter.partition ?? null,
    workflowId: letter.workflowId ?? null,
    trigger: letter.trigger ?? null,
    attempts: letter.attempts ?? null,
    error: letter.error,
    failedAt: new Date(letter.failedAt).toISOString(),
  }
}

async function storeHealth(target: OperationsTarget) {
  const base = { kind: target.storeKind.toUpperCase(), description: target.storeDescription }
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), STORE_TIMEOUT_MS)
  })
  try {
    const head = await Promise.race([target.store.headPosition(), timeout])
    return {
      ...base,
      reachable: true,
      headPosition: String(head),
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
      error: null,
    }
  } catch (error) {
    // A code, or the bound that ran out: the store's own message may name its host.
    const message = error instanceof AnnalsError ? error.code : `no answer within ${STORE_TIMEOUT_MS} ms`
    return { ...base, reachable: false, headPosition: null, latencyMs: null, error: message }
  } finally {
    clearTimeout(timer)
  }
}

function checkText(field: string, value: string): void {
  if (value.trim() === '' || value.length > MAX_NAME_LENGTH) {
    throw new AnnalsError('BAD_INPUT', `${field} must be 1 to ${MAX_NAME_LENGTH} characters`, {
      details: { issues: [{ path: [field], message: `1 to ${MAX_NAME_LENGTH} characters` }] },
    })
  }
}
