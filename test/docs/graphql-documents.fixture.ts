import { Kind, OperationTypeNode, parse, print, type OperationDefinitionNode } from 'graphql'
import { afterAll, describe, expect, it } from 'vitest'
import { connectClient, subscribe, type Subscription } from '../e2e/fixtures/subscribe-over-ws.ts'
import { markdownBlocks } from './markdown-blocks.fixture.ts'

export interface GraphQLEndpoint {
  /** http://host:port/graphql */
  readonly url: string
  /** ws://host:port/graphql */
  readonly wsUrl: string
}

interface Reply {
  data?: Record<string, unknown> | null
  errors?: { message: string; extensions?: { code?: string } }[]
}

/** A string literal such as "<the token>": the docs' stand-in for the token the last mutation returned. */
const placeholder = /"<[^">]+>"/g

/**
 * Declares one test per GraphQL operation in the graphql blocks of a markdown file, run in the order the
 * file shows them against a running service, so a document added to the file is covered by itself. An
 * operation must answer without errors, unless an `<!-- answers CODE -->` comment above its block names the
 * code it fails with; "<...>" stands for the last mutation's token; a subscription must send its current
 * result at once, and a change after the next mutation (when one follows it).
 */
export function describeGraphQLDocuments(file: string, endpoint: () => GraphQLEndpoint): void {
  const operations = markdownBlocks(file, 'graphql').flatMap((block) =>
    parse(block.code)
      .definitions.filter((node): node is OperationDefinitionNode => node.kind === Kind.OPERATION_DEFINITION)
      .map((operation) => ({ block, operation })),
  )
  let token: string | undefined
  const awaitingChange: Subscription<unknown>[] = []
  const clients: { dispose(): void | Promise<void> }[] = []
  afterAll(async () => {
    for (const feed of awaitingChange) feed.close()
    for (const client of clients) await client.dispose()
  })

  describe(`the GraphQL documents of ${file}`, () => {
    it('holds at least one', () => expect(operations.length).toBeGreaterThan(0))

    for (const { block, operation } of operations) {
      const field = operation.selectionSet.selections[0]
      const name = field?.kind === Kind.FIELD ? field.name.value : '?'
      const outcome = block.answers ? `fails with ${block.answers}` : 'answers without errors'
      it(`${file}:${block.line} ${operation.operation} ${name} ${outcome}`, async () => {
        const query = print(operation).replace(placeholder, () => JSON.stringify(token ?? ''))
        if (operation.operation === OperationTypeNode.SUBSCRIPTION) {
          const client = connectClient(endpoint().wsUrl)
          clients.push(client)
          const feed = subscribe<unknown>(client, query)
          await firstFrame(feed, block.answers)
          if (!block.answers) awaitingChange.push(feed)
          return
        }
        const reply = await post(endpoint().url, query)
        if (block.answers) {
          expect(reply.errors?.map((error) => error.extensions?.code)).toContain(block.answers)
          return
        }
        expect(reply.errors).toBeUndefined()
        expect(reply.data).toBeTruthy()
        if (operation.operation !== OperationTypeNode.MUTATION) return
        token = findToken(reply.data) ?? token
        for (const feed of awaitingChange.splice(0)) {
          await firstFrame(feed, undefined)
          feed.close()
        }
      })
    }
  })
}

async function post(url: string, query: string): Promise<Reply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  })
  return (await response.json()) as Reply
}

/** The next frame of a feed, or its errors: the code they must carry, or a failure when none is expected. */
async function firstFrame(feed: Subscription<unknown>, answers: string | undefined): Promise<void> {
  const outcome = await Promise.race([
    feed.take(1).then((frames) => ({ frames })),
    feed.errors.then((errors) => ({ errors })),
  ])
  if ('errors' in outcome) {
    if (answers) expect(outcome.errors.map((error) => error.extensions?.code)).toContain(answers)
    else expect.fail(`The subscription answered ${JSON.stringify(outcome.errors)}`)
  } else {
    expect(answers, 'a subscription expected to fail sent a frame').toBeUndefined()
    expect(outcome.frames[0]).toBeTruthy()
  }
}

function findToken(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'token' && typeof inner === 'string') return inner
    const found = findToken(inner)
    if (found) return found
  }
  return undefined
}
