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
console.log(
  `\nVirtual power plant ready on port ${port}\n  GraphQL   http://${shown}:${port}/graphql\n  GraphiQL  http://${shown}:${port}/graphiql\n`,
)
