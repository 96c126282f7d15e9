import type { z } from 'zod'

/** Upcasters keyed by the version they read: `{ 1: (v1) => v2, 2: (v2) => v3 }`. */
export type Upcasters = Readonly<Record<number, (data: any) => unknown>> // eslint-disable-line @typescript-eslint/no-explicit-any

export interface VersionedEvent<TSchema extends z.ZodType> {
  readonly kind: 'versioned-event'
  readonly schema: TSchema
  /** The current version: new events are stored with it. */
  readonly version: number
  /** Brings data stored at `fromVersion` up to the current version. */
  upcast(data: unknown, fromVersion: number): unknown
}

/**
 * Declares an event whose shape changed: the current schema and version, and one upcaster per older
 * version that turns it into the next one. Stored events are upcast when read; new ones use `version`.
 *
 * @example
 * ChargingStarted: versionedEvent(z.object({ kw: z.number(), mode: z.enum(['grid', 'solar']) }), {
 *   version: 2,
 *   upcasters: { 1: (v1: { kw: number }) => ({ ...v1, mode: 'grid' }) },
 * })
 */
export function versionedEvent<TSchema extends z.ZodType>(
  schema: TSchema,
  options: { readonly version: number; readonly upcasters: Upcasters },
): VersionedEvent<TSchema> {
  const { version, upcasters } = options
  for (let from = 1; from < version; from++) {
    if (typeof upcasters[from] !== 'function') {
      throw new Error(`versionedEvent: version ${version} needs an upcaster from version ${from}`)
    }
  }
  return {
    kind: 'versioned-event',
    schema,
    version,
    upcast(data, fromVersion) {
      if (!Number.isInteger(fromVersion) || fromVersion < 1 || fromVersion > version) {
        throw new Error(`unknown version ${fromVersion} (current is ${version})`)
      }
      let current = data
      for (let v = fromVersion; v < version; v++) current = upcasters[v]!(current)
      return current
    },
  }
}

export function isVersionedEvent(value: unknown): value is VersionedEvent<z.ZodType> {
  return (
    typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'versioned-event'
  )
}
