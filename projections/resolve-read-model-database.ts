import { AnnalsError } from '../framework/errors.ts'
import type { ReadSideContext } from '../framework/read-model/read-side.ts'
import { createInMemoryReadModels, type ReadModelDatabase } from './read-model-database.ts'

/** The database a read side runs on: the one given, else DATABASE_URL, else memory. */
export async function resolveReadModelDatabase(
  option: string | ReadModelDatabase | undefined,
  context: ReadSideContext,
): Promise<ReadModelDatabase> {
  if (option !== undefined && typeof option !== 'string') return option
  const url = option ?? (context.env ?? process.env)['DATABASE_URL']
  if (url === undefined || url === '' || url === 'memory') return createInMemoryReadModels()
  throw new AnnalsError('BAD_CONFIG', 'DATABASE_URL must be a postgres:// connection string or "memory"')
}
