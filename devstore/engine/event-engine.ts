import type { Engine, EngineOptions } from './engine.ts'

// TODO(#3): the implementation lands in the next commits.
export function createEngine(_options: EngineOptions): Promise<Engine> {
  return Promise.reject(new Error('devstore engine: not implemented yet'))
}
