import { GraphQLID, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString } from 'graphql'
import { AnnalsError } from '../../errors.ts'
import type { WorkflowInstanceView, WorkflowShape, WorkflowView } from '../../read-model/read-side.ts'
import { authorizeOperation } from '../guards/authorize-operation.ts'
import { camelCase, pascalCase } from '../schema/graphql-names.ts'
import { DateTimeScalar } from '../schema/graphql-scalars.ts'
import { frameworkObjectType, type TypeRegistry } from '../schema/type-registry.ts'
import { zodOutputType } from '../schema/zod-output-type.ts'
import type { GatewayContext, GatewayField, GatewayRuntime } from '../transport/gateway-context.ts'

/**
 * One query per workflow, named after it as a read model's is (`batteryHeartbeatWorkflow`): an instance by
 * its correlation id (its state typed by the workflow's schema, status, pending timers), the workflow's dead
 * letters, and the timers pending and fired on the replica that answers. Authorized as a query of that name,
 * so a rule can keep it to operators.
 */
export function workflowQueries(
  registry: TypeRegistry,
  workflow: WorkflowShape,
  runtime: () => GatewayRuntime,
): Record<string, GatewayField> {
  const field = `${camelCase(workflow.name)}Workflow`
  const typeName = `${pascalCase(workflow.name)}Workflow`
  const owner = `workflow ${workflow.name}`
  registry.claimField('Query', field, owner)
  const instanceType = new GraphQLObjectType({
    name: `${typeName}Instance`,
    description: `An instance of ${workflow.name}, as its stream last recorded it.`,
    fields: {
      workflowId: { type: new GraphQLNonNull(GraphQLID) },
      status: { type: new GraphQLNonNull(GraphQLString), description: '`active`, `held` or `completed`.' },
      state: { type: zodOutputType(registry, workflow.state, { name: `${typeName}State`, owner }) },
      timers: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(timerType(registry)))),
        description: 'Its pending timers.',
      },
      revision: {
        type: new GraphQLNonNull(GraphQLString),
        resolve: (instance: WorkflowInstanceView) => String(instance.revision),
      },
    },
  })
  const workflowType = registry.named({
    name: typeName,
    key: workflow,
    role: 'framework',
    owner,
    build: (name) =>
      new GraphQLObjectType<WorkflowView, GatewayContext>({
        name,
        ...(workflow.description === undefined ? {} : { description: workflow.description }),
        fields: {
          instance: {
            type: instanceType,
            args: { id: { type: new GraphQLNonNull(GraphQLID), description: 'Its correlation id.' } },
            resolve: (view, args: { id: string }) => view.instance(args.id),
          },
          deadLetters: {
            type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(deadLetterType(registry)))),
            description: 'Reactions given up on, each holding its instance until it is retried or discarded.',
            resolve: (view) => view.deadLetters(),
          },
          pendingTimers: {
            type: new GraphQLNonNull(GraphQLInt),
            description: 'Timers pending in the partitions the answering replica runs.',
            resolve: (view) => view.pendingTimers(),
          },
          timersFired: {
            type: new GraphQLNonNull(GraphQLInt),
            description: 'Timers fired on the answering replica since it started.',
            resolve: (view) => view.timersFired(),
          },
        },
      }),
  })
  return {
    [field]: {
      type: new GraphQLNonNull(workflowType),
      description: `The workflow ${workflow.name}: its instances, dead letters and timers.`,
      resolve: async (_root, args: Record<string, unknown>, context) => {
        const gateway = runtime()
        await authorizeOperation(gateway.authorization, context.principal, {
          kind: 'query',
          name: field,
          args,
        })
        const view = gateway.workflow?.(workflow.name)
        if (!view) throw new AnnalsError('NOT_FOUND', `No workflow is named ${workflow.name}`)
        return view
      },
    },
  }
}

function timerType(registry: TypeRegistry): GraphQLObjectType {
  return frameworkObjectType(registry, {
    name: 'WorkflowTimer',
    key: timerType,
    owner: 'workflows (a pending timer)',
    description: 'A pending timer of a workflow instance.',
    fields: {
      name: { type: new GraphQLNonNull(GraphQLString) },
      id: { type: new GraphQLNonNull(GraphQLID), description: 'Derived from the trigger that set it.' },
      due: { type: new GraphQLNonNull(DateTimeScalar) },
    },
  })
}

function deadLetterType(registry: TypeRegistry): GraphQLObjectType {
  return frameworkObjectType(registry, {
    name: 'WorkflowDeadLetter',
    key: deadLetterType,
    owner: 'workflows (a dead letter)',
    description: 'A reaction a workflow gave up on after its retries.',
    fields: {
      id: { type: new GraphQLNonNull(GraphQLID), description: 'What retry and discard name.' },
      workflowId: { type: new GraphQLNonNull(GraphQLID) },
      partition: { type: new GraphQLNonNull(GraphQLString) },
      trigger: { type: new GraphQLNonNull(GraphQLString) },
      error: { type: new GraphQLNonNull(GraphQLString) },
      failedAt: { type: new GraphQLNonNull(DateTimeScalar) },
    },
  })
}
