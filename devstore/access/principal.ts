/**
 * Who a call comes from, as EventStoreDB's secure mode decides it: basic auth (`authorization: Basic`) of
 * one of its users, else a client certificate signed by the devstore's CA whose common name is a user's
 * name, else anonymous. The users are EventStoreDB's defaults: `admin` in `$admins` and `ops` in `$ops`,
 * both with the password `changeit`.
 */
import { timingSafeEqual } from 'node:crypto'
import type { Metadata } from '@grpc/grpc-js'

export interface Principal {
  readonly name: string
  readonly groups: readonly string[]
}

export interface DevStoreUser extends Principal {
  readonly password: string
}

export const DEFAULT_USERS: readonly DevStoreUser[] = [
  { name: 'admin', password: 'changeit', groups: ['$admins'] },
  { name: 'ops', password: 'changeit', groups: ['$ops'] },
]

/** The account insecure mode treats every call as: it passes every check. */
export const SYSTEM: Principal = { name: 'system', groups: ['$admins'] }

/** A call without credentials. */
export const ANONYMOUS: Principal = { name: '', groups: [] }

/**
 * The principal of a call, or 'unauthenticated' when it carries credentials that name no user (a wrong
 * password, a malformed header): EventStoreDB refuses those before any handler runs.
 */
export function authenticate(
  metadata: Metadata,
  certificateName: string | undefined,
  users: readonly DevStoreUser[],
): Principal | 'unauthenticated' {
  const headers = metadata.get('authorization')
  if (headers.length > 0) {
    const header = headers[0]
    if (headers.length !== 1 || typeof header !== 'string' || !header.startsWith('Basic '))
      return 'unauthenticated'
    const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) return 'unauthenticated'
    const user = users.find((candidate) => candidate.name === decoded.slice(0, colon))
    if (user === undefined || !samePassword(user.password, decoded.slice(colon + 1))) return 'unauthenticated'
    return { name: user.name, groups: user.groups }
  }
  if (certificateName !== undefined) {
    const user = users.find((candidate) => candidate.name === certificateName)
    return user === undefined ? 'unauthenticated' : { name: user.name, groups: user.groups }
  }
  return ANONYMOUS
}

function samePassword(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8')
  const b = Buffer.from(given, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}
