/**
 * Stream access as EventStoreDB's legacy policy grants it: the roles of an action come from the stream's
 * `$acl` metadata (`$r`, `$w`, `$d`, `$mr`, `$mw`; a string or an array of strings), else from the
 * `$userStreamAcl` or `$systemStreamAcl` of the last `$settings` event, else from the defaults (user
 * streams `$all`, system streams `$admins`), per action. `$admins` pass everything; otherwise a role of
 * `$all` (any authenticated user), the user's name or one of its groups grants the action. Reading or
 * writing `$$x` is reading or writing the metadata of `x`.
 */
import type { Engine } from '../engine/engine.ts'
import { ANONYMOUS, type Principal } from './principal.ts'

export type StreamAction = 'read' | 'write' | 'delete' | 'metadataRead' | 'metadataWrite'

const ACL_KEYS: Readonly<Record<StreamAction, string>> = {
  read: '$r',
  write: '$w',
  delete: '$d',
  metadataRead: '$mr',
  metadataWrite: '$mw',
}

export const SETTINGS_STREAM = '$settings'

export function isAllowed(
  engine: Engine,
  principal: Principal,
  stream: string,
  action: StreamAction,
): boolean {
  if (principal.groups.includes('$admins')) return true
  let target = stream
  let act = action
  if (stream.startsWith('$$')) {
    target = stream.slice(2)
    act = action === 'read' ? 'metadataRead' : action === 'write' ? 'metadataWrite' : action
  }
  if (target === '$all' && act !== 'read') return false
  // Anonymous access to streams is off, as in EventStoreDB since 23.10: `$all` does not admit it.
  if (principal === ANONYMOUS) return false
  const roles = rolesFor(engine, target, act)
  return roles.some((role) => role === '$all' || role === principal.name || principal.groups.includes(role))
}

function rolesFor(engine: Engine, stream: string, action: StreamAction): readonly string[] {
  const key = ACL_KEYS[action]
  const own = rolesOf(aclOf(engine.getMetadata(stream)?.raw['$acl'])?.[key])
  if (own !== undefined) return own
  const system = stream.startsWith('$')
  const settings = systemSettings(engine)
  const defaults = rolesOf(aclOf(settings?.[system ? '$systemStreamAcl' : '$userStreamAcl'])?.[key])
  return defaults ?? [system ? '$admins' : '$all']
}

function aclOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

function rolesOf(value: unknown): readonly string[] | undefined {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value) && value.every((role) => typeof role === 'string')) return value
  return undefined
}

// The last `$settings` event, read as JSON; undefined when there is none or it is not an object.
function systemSettings(engine: Engine): Record<string, unknown> | undefined {
  const read = engine.lastEvent(SETTINGS_STREAM)
  if (read === undefined) return undefined
  try {
    return aclOf(JSON.parse(Buffer.from(read.data).toString('utf8')))
  } catch {
    return undefined
  }
}
