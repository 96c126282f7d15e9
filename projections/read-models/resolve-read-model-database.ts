import { AnnalsError, type ReadSideContext } from '../../framework/index.ts'
import { createPostgresReadModels } from './postgres/postgres-read-models.ts'
import { createInMemoryReadModels, type ReadModelDatabase } from './read-model-database.ts'

/**
 * The database a read side runs on: the one given; else a connection string (given, or DATABASE_URL): a
 * postgres:// URL, or `memory`; else memory.
 */
export function resolveReadModelDatabase(
  option: string | ReadModelDatabase | undefined,
  context: ReadSideContext,
): ReadModelDatabase {
  if (option !== undefined && typeof option !== 'string') return option
  const env = context.env ?? process.env
  const url = option ?? env['DATABASE_URL']
  if (url === undefined || url === '' || url === 'memory') return createInMemoryReadModels()
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new AnnalsError('BAD_CONFIG', 'DATABASE_URL must be a postgres:// connection string, or "memory"')
  }
  const leaseMs = env['ANNALS_PROJECTION_LEASE_MS']
  if (leaseMs !== undefined && !(Number(leaseMs) > 0)) {
    throw new AnnalsError(
      'BAD_CONFIG',
      'ANNALS_PROJECTION_LEASE_MS must be a positive number of milliseconds',
    )
  }
  return createPostgresReadModels({ url, ...(leaseMs ? { leaseMs: Number(leaseMs) } : {}) })
}
