import type { TestProject } from 'vitest/node'
import { startThrowawayPostgres } from '../scripts/throwaway-postgres.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A postgres:// URL of the run's throwaway server; '' where this machine has no PostgreSQL binaries. */
    postgresUrl: string
  }
}

/** One throwaway PostgreSQL server for the whole run; each test file makes databases of its own in it. */
export default async function setup(project: TestProject) {
  const server = await startThrowawayPostgres()
  project.provide('postgresUrl', server?.url ?? '')
  return async () => {
    await server?.stop()
  }
}
