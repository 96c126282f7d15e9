import type { IncomingHttpHeaders } from 'node:http'

/**
 * Whether a WebSocket upgrade may go on, by the same rule the HTTP CSRF guard keeps: a browser sends `Origin`
 * on every upgrade and a page cannot forge it, so a foreign page is refused unless its origin is allowed. An
 * upgrade without `Origin` comes from a program, not a page a developer happens to visit, and goes on, as an
 * HTTP request from a program passes the CSRF guard.
 *
 * @example
 * isAllowedOrigin({ host: 'localhost:4000', origin: 'http://localhost:4000' }, []) // true: same origin
 * isAllowedOrigin({ host: 'localhost:4000', origin: 'https://evil.example' }, []) // false
 */
export function isAllowedOrigin(headers: IncomingHttpHeaders, allowedOrigins: readonly string[]): boolean {
  const origin = headers.origin
  if (origin === undefined) return true
  if (allowedOrigins.includes(origin)) return true
  // The page was served by this server (GraphiQL, an app behind the same host): its origin names our host.
  try {
    return headers.host !== undefined && new URL(origin).host === headers.host.toLowerCase()
  } catch {
    return false
  }
}
