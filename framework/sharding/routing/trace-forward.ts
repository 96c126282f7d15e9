import { SpanKind, trace, type Context } from '@opentelemetry/api'
import type { CommandResult } from '../../command/command-bus.ts'
import { endFailed } from '../../command/trace-command.ts'
import type { ValidCommand } from '../../command/validate-command.ts'
import { traceparentOf } from '../../tracing/traceparent.ts'
import { spanAttributes, tracer } from '../../tracing/tracer.ts'

/**
 * Forwards a traced command inside a `forward` span (a child of the command's span), handing `send` the
 * traceparent the owner continues the trace from. An untraced command is sent as it is.
 */
export function traceForward(
  command: ValidCommand,
  owner: string,
  send: (traceparent: string | undefined) => Promise<CommandResult>,
): Promise<CommandResult> {
  const parent: Context | undefined = command.trace
  if (parent === undefined) return send(undefined)
  const span = tracer.startSpan(
    `forward ${command.aggregate.name}.${command.command}`,
    { kind: SpanKind.CLIENT },
    parent,
  )
  if (!span.isRecording()) return send(traceparentOf(parent))
  span.setAttribute(spanAttributes.owner, owner)
  span.setAttribute(spanAttributes.commandId, command.commandId)
  const traceparent = traceparentOf(trace.setSpan(parent, span))
  return send(traceparent).then(
    (result) => {
      span.end()
      return result
    },
    (error: unknown) => {
      endFailed(span, error)
      throw error
    },
  )
}
