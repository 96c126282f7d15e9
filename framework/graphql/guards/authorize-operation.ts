import { AnnalsError } from '../../errors.ts'

/** Who is asking: from `authenticate` or a verified JWT. */
export interface Principal {
  readonly id: string
  readonly roles: readonly string[]
  /** The token's claims or anything else `authenticate` found. */
  readonly claims?: Readonly<Record<string, unknown>>
}

export type OperationKind = 'command' | 'query' | 'subscription'

export interface OperationRequest {
  readonly kind: OperationKind
  /** The command name, the read model name, or the aggregate name for an event feed. */
  readonly name: string
  readonly args: Readonly<Record<string, unknown>>
}

/** Says whether a principal (undefined when anonymous) may run an operation. */
export type AuthorizationRule = (
  principal: Principal | undefined,
  request: OperationRequest,
) => boolean | Promise<boolean>

/**
 * Rules per command, per read model (its queries) and per subscription (a read model or an aggregate's
 * event feed); `default` applies where none is named (everything is allowed without it); `connection`
 * decides whether a WebSocket connection is accepted at all.
 *
 * @example
 * authorize: { commands: { decommission: (principal) => principal?.roles.includes('operator') ?? false } }
 */
export interface AuthorizationRules {
  readonly commands?: Readonly<Record<string, AuthorizationRule>>
  readonly queries?: Readonly<Record<string, AuthorizationRule>>
  readonly subscriptions?: Readonly<Record<string, AuthorizationRule>>
  readonly default?: AuthorizationRule
  readonly connection?: (principal: Principal | undefined) => boolean | Promise<boolean>
}

const RULES_BY_KIND = { command: 'commands', query: 'queries', subscription: 'subscriptions' } as const

/** Throws UNAUTHENTICATED (nobody signed in) or FORBIDDEN (signed in, not allowed) when the rule says no. */
export async function authorizeOperation(
  rules: AuthorizationRules | undefined,
  principal: Principal | undefined,
  request: OperationRequest,
): Promise<void> {
  const rule = rules?.[RULES_BY_KIND[request.kind]]?.[request.name] ?? rules?.default
  if (!rule || (await rule(principal, request))) return
  throw deniedError(principal, `${request.kind} ${request.name}`)
}

export function deniedError(principal: Principal | undefined, what: string): AnnalsError {
  return principal === undefined
    ? new AnnalsError('UNAUTHENTICATED', `Sign in to use ${what}`)
    : new AnnalsError('FORBIDDEN', `${principal.id} may not use ${what}`)
}
