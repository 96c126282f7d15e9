import { createReadStream } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'

/** A file GraphiQL's page loads, as the package that ships it lays it out. */
interface Asset {
  readonly packageName: string
  readonly file: string
  readonly type: string
}

/** The UMD builds the page needs: no bundler, no CDN. graphiql 3 is the last major with a UMD build. */
const assets: Readonly<Record<string, Asset>> = {
  'react.js': { packageName: 'react', file: 'umd/react.production.min.js', type: 'text/javascript' },
  'react-dom.js': {
    packageName: 'react-dom',
    file: 'umd/react-dom.production.min.js',
    type: 'text/javascript',
  },
  'graphiql.js': { packageName: 'graphiql', file: 'graphiql.min.js', type: 'text/javascript' },
  'graphiql.css': { packageName: 'graphiql', file: 'graphiql.min.css', type: 'text/css' },
}

/** What to install when the page's packages are missing (optional peer dependencies of annals). */
export const GRAPHIQL_PACKAGES = 'graphiql@3 react@18 react-dom@18'

/**
 * Serves GraphiQL at /graphiql from the installed graphiql, react and react-dom packages, so the page works
 * with no network. Without them it serves a page that says what to install instead of a blank one.
 */
export function registerGraphiql(app: FastifyInstance, options: { readonly endpoint: string }): void {
  const files = resolveAssets()
  app.get('/graphiql', (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(files ? page(options.endpoint) : missingPage()),
  )
  if (!files) return
  app.get<{ Params: { file: string } }>('/graphiql/assets/:file', (request, reply) => {
    const path = files.get(request.params.file)
    const asset = assets[request.params.file]
    if (!path || !asset) return reply.callNotFound()
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(createReadStream(path))
  })
}

/** Each asset's path on disk, or undefined when a package is not installed. */
function resolveAssets(): Map<string, string> | undefined {
  const require = createRequire(import.meta.url)
  const files = new Map<string, string>()
  for (const [name, asset] of Object.entries(assets)) {
    try {
      files.set(name, join(dirname(require.resolve(`${asset.packageName}/package.json`)), asset.file))
    } catch {
      return undefined
    }
  }
  return files
}

function page(endpoint: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>GraphiQL</title>
  <link rel="stylesheet" href="/graphiql/assets/graphiql.css">
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql"></div>
  <script src="/graphiql/assets/react.js"></script>
  <script src="/graphiql/assets/react-dom.js"></script>
  <script src="/graphiql/assets/graphiql.js"></script>
  <script>
    const url = new URL(${JSON.stringify(endpoint)}, location.href)
    const subscriptionUrl = new URL(url)
    subscriptionUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href })
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, { fetcher, shouldPersistHeaders: true }),
    )
  </script>
</body>
</html>
`
}

function missingPage(): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphiQL is not installed</title></head>
<body style="font-family: sans-serif; margin: 2rem">
  <h1>GraphiQL is not installed</h1>
  <p>Annals serves GraphiQL from its optional packages, so that it works with no network. Install them and
  restart the server:</p>
  <pre>npm install --save-dev ${GRAPHIQL_PACKAGES}</pre>
</body>
</html>
`
}
