import type { FastifyInstance } from 'fastify'
import { createServer, type CommandBus, type EventStore, type GatewayLimits } from 'annals'
import {
  createReadSide,
  type ProjectionReadSide,
  type ReadSideOptions,
  type WorkflowClock,
} from 'annals/projections'
import { app, readModels } from '../../example-app/app.ts'

export interface GraphQLError {
  readonly message: string
  readonly extensions: { readonly code: string } & Record<string, unknown>
}

export interface PowerPlant {
  readonly url: string
  readonly wsUrl: string
  readonly readSide: ProjectionReadSide
  readonly store: EventStore
  /** The service's command bus: how a test sends an internal command, which has no mutation. */
  readonly commands: CommandBus
  /** POSTs a GraphQL document; returns data, or throws with the errors' codes. */
  run<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>
  /** POSTs a GraphQL document that must fail; returns its errors. */
  refuse(query: string, variables?: Record<string, unknown>): Promise<readonly GraphQLError[]>
  close(): Promise<void>
}

export interface PowerPlantOptions {
  /** The clock its workflows run on (default the system clock). */
  readonly clock?: WorkflowClock
  /** Replaces parts of the read side (e.g. no reactors: a dispatcher that is down). */
  readonly readSide?: Partial<ReadSideOptions>
  /** The gateway's limits (default the framework's). */
  readonly limits?: Partial<GatewayLimits>
}

/** Starts the example app on its default store (an in-process devstore, through the real client), on a free port. */
export async function startPowerPlant(options: PowerPlantOptions = {}): Promise<PowerPlant> {
  const readSide =
    options.clock || options.readSide
      ? createReadSide({
          ...readModels,
          ...options.readSide,
          ...(options.clock ? { clock: options.clock } : {}),
        })
      : app.readSide
  const server: FastifyInstance = await createServer({
    ...app,
    readSide,
    logger: false,
    env: { NODE_ENV: 'test' },
    ...(options.limits ? { limits: options.limits } : {}),
  })
  await server.listen({ port: 0, host: '127.0.0.1' })
  const address = server.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const url = `http://127.0.0.1:${port}`

  async function post(query: string, variables: Record<string, unknown> = {}) {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    })
    return (await response.json()) as { data?: Record<string, unknown> | null; errors?: GraphQLError[] }
  }

  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    readSide: server.annals.readSide as ProjectionReadSide,
    store: server.annals.store,
    commands: server.annals.commands,
    async run(query, variables) {
      const body = await post(query, variables)
      if (body.errors?.length) {
        throw new Error(
          `GraphQL errors: ${body.errors.map((e) => `${e.extensions.code}: ${e.message}`).join('; ')}`,
        )
      }
      return body.data as never
    },
    async refuse(query, variables) {
      const body = await post(query, variables)
      if (!body.errors?.length) throw new Error(`Expected errors, got ${JSON.stringify(body.data)}`)
      return body.errors
    },
    close: () => server.close(),
  }
}

/** The mutation that installs a battery with the given id and site. */
export const INSTALL = `mutation($id: ID!, $siteId: String!, $energyKwh: Float!) {
  installBattery(id: $id, input: { siteId: $siteId, region: "north", capacityKwh: 10, maxPowerKw: 5, reservePercent: 20, energyKwh: $energyKwh }) {
    aggregateId revision token
  }
}`
