/**
 * A load generator in a process of its own, so that its work is not counted against the server it loads:
 * reads one JSON request a line on stdin ({ url, ms, concurrency, headers }), sends GETs for `ms` from
 * `concurrency` loops, and answers one JSON line ({ rate }) with the requests per second that got a 200.
 */
import { createInterface } from 'node:readline'

interface LoadRequest {
  readonly url: string
  readonly ms: number
  readonly concurrency: number
  readonly headers?: Record<string, string>
}

for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line) as LoadRequest
  const until = performance.now() + request.ms
  const started = performance.now()
  let done = 0
  let failed = 0
  await Promise.all(
    Array.from({ length: request.concurrency }, async () => {
      while (performance.now() < until) {
        const reply = await fetch(request.url, { headers: request.headers ?? {} })
        await reply.arrayBuffer()
        if (reply.status === 200) done++
        else failed++
      }
    }),
  )
  process.stdout.write(`${JSON.stringify({ rate: done / ((performance.now() - started) / 1000), failed })}\n`)
}
