/**
 * ServerFeatures.GetSupportedMethods: the client asks once per connection and picks its code paths from the
 * answer (BatchAppend for appends, the gRPC persistent-subscription calls, `$all` persistent subscriptions).
 */
import type { DevStoreService } from './service-context.ts'
import { ServerFeaturesService, SupportedMethod, SupportedMethods } from './protocol.ts'

export interface AdvertisedMethod {
  readonly serviceName: string
  readonly methodName: string
  readonly features: readonly string[]
}

/** The EventStoreDB version the devstore behaves like. */
export const SERVER_VERSION = '23.10.0'

export function createServerFeaturesService(methods: readonly AdvertisedMethod[]): DevStoreService {
  const reply = new SupportedMethods()
  reply.setEventStoreServerVersion(SERVER_VERSION)
  reply.setMethodsList(
    methods.map((method) => {
      const supported = new SupportedMethod()
      // EventStoreDB answers in lower case; the client compares case-insensitively.
      supported.setServiceName(method.serviceName.toLowerCase())
      supported.setMethodName(method.methodName.toLowerCase())
      supported.setFeaturesList([...method.features])
      return supported
    }),
  )
  return {
    definition: ServerFeaturesService,
    implementation: {
      getSupportedMethods: (_call: unknown, callback: (error: null, reply: SupportedMethods) => void) =>
        callback(null, reply),
    },
  }
}

type SupportedMethods = InstanceType<typeof SupportedMethods>
