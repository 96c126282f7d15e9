/**
 * The seam between the devstore's gRPC server and the services it serves: what a service gets (the
 * ServiceContext) and what it gives back (a DevStoreService), apart from server.ts so that the services and
 * the server both import it and neither imports the other.
 */
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js'
import type { AccessControl } from '../access/access-control.ts'
import type { Engine } from '../engine/engine.ts'
import type { FaultState } from '../faults.ts'
import type { OpenCalls } from './open-calls.ts'

export interface ServiceContext {
  readonly engine: Engine
  /** Register long-lived calls here (kind 'subscription' for subscriptions) so shutdown and faults end them. */
  readonly calls: OpenCalls
  readonly faults: FaultState
  /** Who each call is and what it may do (everything, when access control is off). */
  readonly access: AccessControl
  /** How long a write may take to commit before it is answered as timed out (EventStoreDB's commit timeout). */
  readonly commitTimeoutMs: number
}

export interface DevStoreService {
  readonly definition: ServiceDefinition
  readonly implementation: UntypedServiceImplementation
  /** Features advertised per method, keyed by the method's name as in its path (e.g. `Create`: ['stream', 'all']). */
  readonly features?: Readonly<Record<string, readonly string[]>>
  /** Called when the server stops, after its calls were ended. */
  readonly close?: () => void | Promise<void>
}

export type DevStoreServiceFactory = (context: ServiceContext) => DevStoreService
