import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql'
import type { Context as WsContext } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import { LRUCache } from 'lru-cache'
import { WebSocketServer, type WebSocket } from 'ws'
import { AnnalsError } from '../../errors.ts'
import type { Authenticate } from '../guards/authenticate-request.ts'
import type { AuthorizationRules, Principal } from '../guards/authorize-operation.ts'
import { deniedError } from '../guards/authorize-operation.ts'
import { InvalidDocumentError, type DocumentGate } from '../guards/document-gate.ts'
import { formatGraphQLError, withoutSuggestions } from './format-graphql-error.ts'
import type { GatewayContext } from './gateway-context.ts'
import { enforceLimits, type GatewayLimits } from '../guards/gateway-limits.ts'
import type { RateLimiter } from '../guards/rate-limiter.ts'
import { createSharedSubscribe, isSharedSelection } from '../feeds/shared-subscription-execution.ts'

export interface SubscriptionServerOptions {
  readonly schema: GraphQLSchema
  readonly path: string
  readonly limits: GatewayLimits
  readonly introspection: boolean
  readonly authenticate: Authenticate
  readonly authorization: AuthorizationRules | undefined
  readonly rateLimiter: RateLimiter | undefined
  /** The gate HTTP documents pass too: size, tokens, nesting, limits and validation before anything is kept. */
  readonly gate: DocumentGate
  readonly log: { error(object: Record<string, unknown>, message: string): void }
  readonly onActiveChange?: (active: number) => void
}

export interface SubscriptionServer {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Operations running now, across connections. */
  active(): number
  /** Refuses new connections and closes the open ones with a reason (1001 going away on shutdown). */
  close(code: number, reason: string): Promise<void>
}

type Extra = {
  readonly socket: WebSocket
  readonly request: IncomingMessage
  principal?: Principal | undefined
}

/**
 * GraphQL subscriptions over WebSocket (the graphql-transport-ws protocol of graphql-ws): credentials are
 * checked at connection_init and each operation is authorized, limited and rate-limited as it starts.
 */
export function createSubscriptionServer(options: SubscriptionServerOptions): SubscriptionServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.limits.maxBodyBytes })
  const running = new Set<string>()
  /** Open connections by remote address; an address leaves the map with its last connection. */
  const openPerAddress = new Map<string, number>()
  let connections = 0
  const connectionIds = new WeakMap<WebSocket, number>()
  const connectionOf = (ctx: WsContext<Record<string, unknown>, Extra>) =>
    connectionIds.get(ctx.extra.socket) ?? 0
  let closing = false
  const changed = () => options.onActiveChange?.(running.size)
  const reporter = (ctx: WsContext<Record<string, unknown>, Extra>, id: string) => ({
    requestId: `ws-${connectionOf(ctx)}-${id}`,
    error: options.log.error.bind(options.log),
  })
  const refuse = (error: unknown, ctx: WsContext<Record<string, unknown>, Extra>, id: string) => {
    const formatted =
      error instanceof InvalidDocumentError ? error.errors : [formatGraphQLError(error, reporter(ctx, id))]
    return formatted.map((each) => {
      const message = options.introspection ? each.message : withoutSuggestions(each.message)
      return new GraphQLError(message, { extensions: each.extensions ?? { code: 'INTERNAL' } })
    })
  }

  // Clients sending the same query share one parsed and validated document, so a change is executed once
  // per distinct document and variables rather than once per client (see createSharedSubscribe).
  const documents = new LRUCache<string, ParsedQuery>({ max: options.limits.maxCachedDocuments })
  const sharedDocuments = new WeakSet<DocumentNode>()
  const parseQuery = (query: string): ParsedQuery => {
    const known = documents.get(query)
    if (known) return known
    const document = parse(query)
    const parsed = { document, errors: validate(options.schema, document) }
    if (parsed.errors.length === 0 && isSharedSelection(options.schema, document))
      sharedDocuments.add(document)
    documents.set(query, parsed)
    return parsed
  }

  useServer<Record<string, unknown>, Extra>(
    {
      schema: options.schema,
      subscribe: createSharedSubscribe((document) => sharedDocuments.has(document)),
      onConnect: async (ctx) => {
        const headers = { ...ctx.extra.request.headers, ...lowercaseKeys(ctx.connectionParams) }
        try {
          ctx.extra.principal = await options.authenticate({
            headers,
            ip: ctx.extra.request.socket.remoteAddress ?? '',
          })
        } catch {
          ctx.extra.socket.close(4401, 'Unauthorized: the credentials are invalid')
          return false
        }
        const rule = options.authorization?.connection
        if (rule && !(await rule(ctx.extra.principal))) {
          const denied = deniedError(ctx.extra.principal, 'subscriptions')
          ctx.extra.socket.close(denied.code === 'UNAUTHENTICATED' ? 4401 : 4403, denied.message)
          return false
        }
        return true
      },
      onSubscribe: (ctx, id, payload) => {
        try {
          if (closing) throw new AnnalsError('SHUTTING_DOWN', 'The server is shutting down')
          if (Object.keys(ctx.subscriptions).length > options.limits.maxSubscriptionsPerConnection) {
            throw new AnnalsError(
              'LIMIT_EXCEEDED',
              `A connection may run at most ${options.limits.maxSubscriptionsPerConnection} subscriptions`,
            )
          }
          options.rateLimiter?.take(
            ctx.extra.principal?.id ?? ctx.extra.request.socket.remoteAddress ?? 'unknown',
          )
          options.gate.admit({ ...payload, transport: 'ws' })
          const { document, errors } = parseQuery(payload.query)
          if (errors.length > 0) return errors.flatMap((error) => refuse(error, ctx, id))
          enforceLimits(options.schema, document, payload.variables ?? undefined, options)
          const contextValue: GatewayContext = {
            principal: ctx.extra.principal,
            requestId: `ws-${connectionOf(ctx)}-${id}`,
            closeConnection: (code, reason) => ctx.extra.socket.close(code, reason),
          }
          return {
            schema: options.schema,
            document,
            variableValues: payload.variables ?? undefined,
            operationName: payload.operationName ?? undefined,
            contextValue,
          }
        } catch (error) {
          return refuse(error, ctx, id)
        }
      },
      onOperation: (ctx, id) => {
        running.add(`${connectionOf(ctx)}:${id}`)
        changed()
        return undefined
      },
      onComplete: (ctx, id) => {
        running.delete(`${connectionOf(ctx)}:${id}`)
        changed()
      },
      onNext: (ctx, id, _payload, _args, result) =>
        result.errors
          ? {
              data: result.data ?? null,
              errors: result.errors.map((error) => formatGraphQLError(error, reporter(ctx, id))),
            }
          : undefined,
      onError: (ctx, id, _payload, errors) =>
        errors.map((error) =>
          // Errors refused in onSubscribe are formatted already.
          typeof error.extensions['code'] === 'string' && !error.originalError
            ? error.toJSON()
            : formatGraphQLError(error, reporter(ctx, id)),
        ),
      onClose: (ctx) => {
        for (const key of [...running]) if (key.startsWith(`${connectionOf(ctx)}:`)) running.delete(key)
        changed()
      },
    },
    wss,
  )

  return {
    handleUpgrade(request, socket, head) {
      if (closing) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n')
        return
      }
      const address = request.socket.remoteAddress ?? 'unknown'
      const open = openPerAddress.get(address) ?? 0
      if (open >= options.limits.maxConnectionsPerAddress) {
        socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\n\r\n')
        return
      }
      // ws completes an upgrade synchronously (no verifyClient), so the count is taken before the next one.
      wss.handleUpgrade(request, socket, head, (websocket) => {
        openPerAddress.set(address, (openPerAddress.get(address) ?? 0) + 1)
        websocket.once('close', () => {
          const left = (openPerAddress.get(address) ?? 1) - 1
          if (left > 0) openPerAddress.set(address, left)
          else openPerAddress.delete(address)
        })
        connectionIds.set(websocket, ++connections)
        wss.emit('connection', websocket, request)
      })
    },
    active: () => running.size,
    async close(code, reason) {
      closing = true
      for (const client of wss.clients) client.close(code, reason)
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

interface ParsedQuery {
  readonly document: DocumentNode
  readonly errors: readonly GraphQLError[]
}

function lowercaseKeys(params: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [key, value] of Object.entries(params ?? {})) {
    if (typeof value === 'string') headers[key.toLowerCase()] = value
  }
  return headers
}
