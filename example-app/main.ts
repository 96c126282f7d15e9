import { createServer } from 'annals'
import { app } from './app.ts'

// Data lives under .annals/ (git-ignored) unless ANNALS_DATA_DIR or EVENTSTORE_URL say otherwise.
const server = await createServer({
  ...app,
  dataDir: process.env.ANNALS_DATA_DIR ?? '.annals/example-data',
  handleSignals: true,
})
const { port, host } = server.annals.config
await server.listen({ port, host })
const shown = host === '0.0.0.0' ? 'localhost' : host
const lines = [`Virtual power plant ready on port ${port}`, `  GraphQL   http://${shown}:${port}/graphql`]
// GraphiQL is off in production (GRAPHQL_GRAPHIQL turns it on): advertise it only where it answers.
if (server.hasRoute({ method: 'GET', url: '/graphiql' }))
  lines.push(`  GraphiQL  http://${shown}:${port}/graphiql`)
console.log(`\n${lines.join('\n')}\n`)
