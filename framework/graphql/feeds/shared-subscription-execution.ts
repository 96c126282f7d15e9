import {
  createSourceEventStream,
  execute,
  getNamedType,
  isAbstractType,
  TypeInfo,
  TypeNameMetaFieldDef,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLAbstractType,
  type GraphQLSchema,
} from 'graphql'
import { mapAsyncIterator } from 'graphql/execution/mapAsyncIterator.js'

/**
 * The resolver of a subscription field whose event is the frame itself. Selections that reach only this at
 * the root and default resolvers below it depend on the frame and the variables alone, never on the client.
 */
export const frameResolve = (frame: unknown): unknown => frame

const typedByFrame = new WeakSet<GraphQLAbstractType>()

/** Marks an abstract type whose resolveType reads the frame alone, so a selection through it can be shared. */
export function resolvesTypeByFrame<T extends GraphQLAbstractType>(type: T): T {
  typedByFrame.add(type)
  return type
}

/**
 * Whether every client subscribed with `document` gets the same result for the same frame and variables:
 * the root fields resolve the frame as it is (frameResolve), the fields below use the default resolver,
 * and no abstract type needs a resolveType of its own (other than one that reads the frame alone).
 */
export function isSharedSelection(schema: GraphQLSchema, document: DocumentNode): boolean {
  const root = schema.getSubscriptionType()
  const typeInfo = new TypeInfo(schema)
  let shared = true
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const field = typeInfo.getFieldDef()
        if (!field) return
        const parent = typeInfo.getParentType()
        // __typename names the type the frame resolved to: the same for every client.
        const resolverOk =
          parent === root
            ? field.resolve === frameResolve
            : field.resolve === undefined || field === TypeNameMetaFieldDef
        const named = getNamedType(field.type)
        const typedByClient =
          isAbstractType(named) && named.resolveType !== undefined && !typedByFrame.has(named)
        if (!resolverOk || typedByClient) shared = false
      },
    }),
  )
  return shared
}

type Results = Map<string, ExecutionResult | Promise<ExecutionResult>>

/**
 * graphql's subscribe, except that a result that can be shared (see isSharedSelection) is computed once per
 * frame, document and variables, and handed to every client that asks for the same: with many clients on
 * one row, a change is executed once rather than once per client.
 */
export function createSharedSubscribe(shared: (document: DocumentNode) => boolean) {
  const byFrame = new WeakMap<object, WeakMap<DocumentNode, Results>>()
  return async (args: ExecutionArgs) => {
    const stream = await createSourceEventStream(args)
    if (!(Symbol.asyncIterator in stream)) return stream
    const run = (rootValue: unknown) => execute({ ...args, rootValue })
    if (!shared(args.document)) return mapAsyncIterator(stream, run)
    const variables = JSON.stringify(args.variableValues ?? null) + (args.operationName ?? '')
    return mapAsyncIterator(stream, (frame: unknown) => {
      if (typeof frame !== 'object' || frame === null) return run(frame)
      let byDocument = byFrame.get(frame)
      if (!byDocument) byFrame.set(frame, (byDocument = new WeakMap<DocumentNode, Results>()))
      let results = byDocument.get(args.document)
      if (!results)
        byDocument.set(
          args.document,
          (results = new Map<string, ExecutionResult | Promise<ExecutionResult>>()),
        )
      let result = results.get(variables)
      if (!result) results.set(variables, (result = run(frame)))
      return result
    })
  }
}
