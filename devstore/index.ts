// The public API of 'annals/devstore': the embedded EventStoreDB-compatible server. Named re-exports only.
export {}
