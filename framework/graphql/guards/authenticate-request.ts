import type { FastifyInstance } from 'fastify'
import { AnnalsError } from '../../errors.ts'
import type { Principal } from './authorize-operation.ts'

/** What authentication reads: an HTTP request, or a WebSocket upgrade with its connection_init payload. */
export interface AuthenticationRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly ip?: string
}

/** Finds who is asking; undefined for anonymous, or throws UNAUTHENTICATED for bad credentials. */
export type Authenticate = (request: AuthenticationRequest) => Promise<Principal | undefined>

export interface JwtOptions {
  /** The HS256 key tokens are signed with: at least 32 bytes (a shorter one is refused at start-up). */
  readonly secret: string
  /** The claim that lists the principal's roles. Default 'roles'. */
  readonly rolesClaim?: string
  /** Accept only tokens whose `iss` is this (or one of these). */
  readonly issuer?: string | readonly string[]
  /** Accept only tokens whose `aud` names this (or one of these). */
  readonly audience?: string | readonly string[]
}

/** The shortest JWT secret accepted: 256 bits, the size of HS256's own output. */
export const minJwtSecretBytes = 32

/**
 * The authentication createServer uses: the user's own function, else a JWT bearer token verified with
 * @fastify/jwt (`sub` is the principal's id, the roles claim its roles), else everyone is anonymous.
 */
export async function createAuthentication(
  app: FastifyInstance,
  options: { readonly authenticate?: Authenticate; readonly jwt?: JwtOptions },
): Promise<Authenticate> {
  if (options.authenticate) return options.authenticate
  const jwt = options.jwt
  if (!jwt) return () => Promise.resolve(undefined)
  checkJwtOptions(jwt)
  const { default: fastifyJwt } = await import('@fastify/jwt')
  await app.register(fastifyJwt, {
    secret: jwt.secret,
    verify: {
      ...(jwt.issuer === undefined ? {} : { allowedIss: toList(jwt.issuer) }),
      ...(jwt.audience === undefined ? {} : { allowedAud: toList(jwt.audience) }),
    },
    sign: {
      ...(typeof jwt.issuer === 'string' ? { iss: jwt.issuer } : {}),
      ...(typeof jwt.audience === 'string' ? { aud: jwt.audience } : {}),
    },
  })
  const rolesClaim = jwt.rolesClaim ?? 'roles'
  return (request) => {
    const header = request.headers['authorization']
    if (typeof header !== 'string' || header === '') return Promise.resolve(undefined)
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]
    if (!token)
      return Promise.reject(
        new AnnalsError('UNAUTHENTICATED', 'The authorization header must be "Bearer <token>"'),
      )
    let claims: Record<string, unknown>
    try {
      claims = app.jwt.verify<Record<string, unknown>>(token)
    } catch (cause) {
      return Promise.reject(new AnnalsError('UNAUTHENTICATED', 'The token is invalid or expired', { cause }))
    }
    const roles = claims[rolesClaim]
    return Promise.resolve({
      id: typeof claims['sub'] === 'string' ? claims['sub'] : 'anonymous-subject',
      roles: Array.isArray(roles) ? roles.map(String) : [],
      claims,
    })
  }
}

function toList(value: string | readonly string[]): string[] {
  return typeof value === 'string' ? [value] : [...value]
}

/** Refuses, with BAD_CONFIG, a secret short enough to guess: anyone who guesses it signs their own tokens. */
export function checkJwtOptions(jwt: JwtOptions): void {
  const bytes = Buffer.byteLength(jwt.secret)
  if (bytes < minJwtSecretBytes) {
    throw new AnnalsError(
      'BAD_CONFIG',
      `The JWT secret takes ${bytes} bytes; at least ${minJwtSecretBytes} are needed, or anyone can guess it and sign tokens`,
    )
  }
}

/** The realm a 401's challenge names: the GraphQL gateway, as opposed to the replicas' internal channel. */
export const gatewayRealm = 'annals'

/**
 * The `WWW-Authenticate` challenge of a 401 answer (RFC 9110 §11.6.1, which requires one), in RFC 6750's
 * Bearer form: bare when the request carried no bearer token (no error code, as §3.1 asks), with
 * `error="invalid_token"` when it carried one that was not accepted.
 */
export function bearerChallenge(authorization: string | readonly string[] | undefined): string {
  const presented = typeof authorization === 'string' && /^Bearer\s+\S/i.test(authorization)
  return `Bearer realm="${gatewayRealm}"${presented ? ', error="invalid_token"' : ''}`
}
