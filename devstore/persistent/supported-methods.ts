/**
 * What ServerFeatures.GetSupportedMethods must advertise for the client to use this service over gRPC:
 * unadvertised, client 6.x falls back to an HTTP API for streams and refuses `$all` groups outright.
 * The client compares `/<service>/<method>` in lower case and checks the `stream` and `all` features.
 */
export const persistentSubscriptionMethods: readonly {
  readonly serviceName: string
  readonly methodName: string
  readonly features: readonly string[]
}[] = ['Create', 'Update', 'Delete', 'Read', 'GetInfo', 'ReplayParked', 'List', 'RestartSubsystem'].map(
  (methodName) => ({
    serviceName: 'event_store.client.persistent_subscriptions.PersistentSubscriptions',
    methodName: methodName.toLowerCase(),
    features: ['stream', 'all'],
  }),
)
