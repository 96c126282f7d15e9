/**
 * Access control for the devstore's calls. Off (EventStoreDB's `--insecure`): every call is the system
 * account and passes. On: the server's guard authenticates each call once (a wrong password is
 * UNAUTHENTICATED before any handler runs), and handlers check the principal against stream ACLs and
 * operation policies, refusing with AccessDenied (PERMISSION_DENIED, `exception: access-denied`).
 */
import type { Metadata } from '@grpc/grpc-js'
import type { Engine } from '../engine/engine.ts'
import { RequestRefused } from '../grpc/request-refused.ts'
import { accessDenied } from '../grpc/status-errors.ts'
import { ANONYMOUS, authenticate, SYSTEM, type DevStoreUser, type Principal } from './principal.ts'
import { isAllowed, type StreamAction } from './stream-acl.ts'

/** What authentication reads of a call: its headers and, over TLS, the client's certificate. */
export interface AuthenticatedCall {
  readonly metadata: Metadata
  getAuthContext?(): { sslPeerCertificate?: { subject?: { CN?: string | string[] } } | undefined }
}

export class AccessControl {
  private readonly principals = new WeakMap<object, Principal>()

  constructor(
    private readonly engine: () => Engine,
    private readonly users: readonly DevStoreUser[] | undefined,
  ) {}

  get enabled(): boolean {
    return this.users !== undefined
  }

  /** Authenticates a call and remembers its principal; 'unauthenticated' for credentials of no user. */
  authenticate(call: AuthenticatedCall): Principal | 'unauthenticated' {
    if (this.users === undefined) return SYSTEM
    const principal = authenticate(call.metadata, certificateName(call), this.users)
    if (principal !== 'unauthenticated') this.principals.set(call, principal)
    return principal
  }

  principalOf(call: object): Principal {
    if (this.users === undefined) return SYSTEM
    return this.principals.get(call) ?? ANONYMOUS
  }

  canAccess(call: object, stream: string, action: StreamAction): boolean {
    return this.users === undefined || isAllowed(this.engine(), this.principalOf(call), stream, action)
  }

  /** Throws AccessDenied unless the call may do `action` on `stream`. */
  assertStream(call: object, stream: string, action: StreamAction): void {
    if (!this.canAccess(call, stream, action)) throw new RequestRefused(accessDenied())
  }

  /** Throws AccessDenied for an anonymous call (statistics, consuming a persistent subscription, projections). */
  assertAuthenticated(call: object): void {
    if (this.principalOf(call) === ANONYMOUS) throw new RequestRefused(accessDenied())
  }

  /** Throws AccessDenied unless the call is from `$admins` or `$ops` (managing subscription groups). */
  assertOperator(call: object): void {
    const { groups } = this.principalOf(call)
    if (!groups.includes('$admins') && !groups.includes('$ops')) throw new RequestRefused(accessDenied())
  }
}

function certificateName(call: AuthenticatedCall): string | undefined {
  const name = call.getAuthContext?.().sslPeerCertificate?.subject?.CN
  return Array.isArray(name) ? name[0] : name
}
