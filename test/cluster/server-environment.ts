// TODO(#6): replace with the list framework/server exports from its config schema once createServer lands.
/** The environment variables createServer reads besides sharding's. */
export const serverEnvironmentNames: readonly string[] = ['PORT', 'HOST', 'EVENTSTORE_URL', 'NODE_ENV']
