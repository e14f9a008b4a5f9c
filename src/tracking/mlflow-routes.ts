/**
 * The MLflow REST API 2.0 of the tracking module (under `/api/2.0/mlflow`), with MLflow's request
 * and response shapes (`mlflow/protos/service.proto`). Thin: parse with zod, call the service,
 * answer in MLflow's JSON (non-finite doubles as strings).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalidParam } from '../core/errors.ts';
import { requestContext, requestInput, sendMlflowJson } from '../server/http.ts';
import type { TrackingService } from './service.ts';
import { validateBatchRequestSize } from './validation.ts';
import { double, experimentIdField, int64, str, stringList, tag, viewType, withoutNulls } from './wire.ts';

const stringArray = z.array(str(), { error: 'expected a list of strings' });
const experimentIds = z.array(experimentIdField(), { error: 'expected a list of strings' });

/**
 * The search requests, in their JSON-body form and in their query-string form (where a repeated
 * field given once arrives as a string).
 */
function searchSchemas<L extends z.ZodType, I extends z.ZodType>(list: L, ids: I) {
  return {
    searchExperiments: z.object({
      max_results: int64.optional(),
      page_token: str().optional(),
      filter: str().optional(),
      order_by: list.optional(),
      view_type: viewType.optional(),
    }),
    searchRuns: z.object({
      experiment_ids: ids.optional(),
      filter: str().optional(),
      run_view_type: viewType.optional(),
      max_results: int64.optional(),
      order_by: list.optional(),
      page_token: str().optional(),
    }),
  };
}
const bodySearch = searchSchemas(stringArray, experimentIds);
const querySearch = searchSchemas(stringList, stringList);

const runRef = { run_id: str().optional(), run_uuid: str().optional() };

/** The run id of a request, `run_uuid` accepted as its old name. */
function runIdOf(input: { run_id?: string; run_uuid?: string }): string {
  const id = input.run_id || input.run_uuid;
  if (!id) throw invalidParam('run_id', "Missing value for required parameter 'run_id'.");
  return id;
}

const experimentId = z.object({ experiment_id: experimentIdField() });

const schemas = {
  createExperiment: z.object({ name: str(), artifact_location: str().optional(), tags: z.array(tag).optional() }),
  getByName: z.object({ experiment_name: str() }),
  listExperiments: z.object({ view_type: viewType.optional(), max_results: int64.optional(), page_token: str().optional() }),
  updateExperiment: z.object({ experiment_id: experimentIdField(), new_name: str() }),
  experimentTag: z.object({ experiment_id: experimentIdField(), key: str(), value: str().optional().default('') }),
  deleteExperimentTag: z.object({ experiment_id: experimentIdField(), key: str() }),
  createRun: z.object({
    experiment_id: experimentIdField().optional(),
    user_id: str().optional(),
    run_name: str().optional(),
    start_time: int64.optional(),
    tags: z.array(tag).optional(),
  }),
  updateRun: z.object({ ...runRef, status: str().optional(), end_time: int64.optional(), run_name: str().optional() }),
  runOnly: z.object(runRef),
  logMetric: z.object({ ...runRef, key: str(), value: double, timestamp: int64, step: int64.optional() }),
  logParam: z.object({ ...runRef, key: str(), value: str().optional().default('') }),
  setTag: z.object({ ...runRef, key: str(), value: str().optional().default('') }),
  deleteTag: z.object({ ...runRef, key: str() }),
  logModel: z.object({ ...runRef, model_json: str() }),
  logBatch: z.object({
    ...runRef,
    metrics: z.array(z.object({ key: str(), value: double, timestamp: int64, step: int64.optional() })).optional(),
    params: z.array(z.object({ key: str(), value: str().optional().default('') })).optional(),
    tags: z.array(tag).optional(),
  }),
  logInputs: z.object({
    ...runRef,
    datasets: z
      .array(
        z.object({
          tags: z.array(tag).optional(),
          dataset: z.object({
            name: str(),
            digest: str(),
            source_type: str(),
            source: str(),
            schema: str().optional(),
            profile: str().optional(),
          }),
        }),
      )
      .optional(),
  }),
  metricHistory: z.object({ ...runRef, metric_key: str(), max_results: int64.optional(), page_token: str().optional() }),
};

/** What the `log-batch` route passes on to the service. */
type LogBatchBody = z.output<typeof schemas.logBatch>;

/**
 * The `log-batch` body as {@link schemas.logBatch} would parse it, when every field already has its
 * plain form (ids and keys as strings, metric values as JSON numbers, timestamps and steps as
 * integers); otherwise undefined, and zod parses it (and words any error). A batch of 1,000 points
 * is checked here in a few microseconds, where zod's parse of it is a tenth of the request.
 */
function plainLogBatch(body: unknown): LogBatchBody | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { run_id, run_uuid, metrics, params, tags } = body as Record<string, unknown>;
  if ((run_id !== undefined && typeof run_id !== 'string') || (run_uuid !== undefined && typeof run_uuid !== 'string')) return undefined;
  if (params !== undefined || tags !== undefined || !Array.isArray(metrics)) return undefined;
  const out: LogBatchBody['metrics'] & object = new Array(metrics.length);
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i] as { key?: unknown; value?: unknown; timestamp?: unknown; step?: unknown } | null;
    if (typeof m !== 'object' || m === null || typeof m.key !== 'string' || typeof m.value !== 'number') return undefined;
    if (!Number.isInteger(m.timestamp) || (m.step !== undefined && !Number.isInteger(m.step))) return undefined;
    out[i] = { key: m.key, value: m.value, timestamp: m.timestamp as number, step: m.step as number | undefined };
  }
  return { run_id, run_uuid, metrics: out };
}

/** {@link requestInput} with JSON `null` read as "not set", as protobuf's JSON mapping has it. */
function mlflowInput<S extends z.ZodType>(request: FastifyRequest, schema: S): z.output<S> {
  return requestInput(request, schema, withoutNulls);
}

/** MLflow-compatible routes of the tracking module (under /api/2.0/mlflow). */
export async function trackingMlflowRoutes(app: FastifyInstance, deps: { tracking: TrackingService }): Promise<void> {
  const tracking = deps.tracking;

  // ---- experiments ----
  app.post('/experiments/create', async (request, reply) => {
    const input = mlflowInput(request, schemas.createExperiment);
    const experiment = await tracking.createExperiment(requestContext(request), input);
    return sendMlflowJson(reply, { experiment_id: experiment.experiment_id });
  });

  app.get('/experiments/get', async (request, reply) => {
    const input = mlflowInput(request, experimentId);
    return sendMlflowJson(reply, { experiment: await tracking.getExperiment(requestContext(request), input.experiment_id) });
  });

  app.get('/experiments/get-by-name', async (request, reply) => {
    const input = mlflowInput(request, schemas.getByName);
    return sendMlflowJson(reply, { experiment: await tracking.getExperimentByName(requestContext(request), input.experiment_name) });
  });

  const searchExperiments = async (request: FastifyRequest, reply: FastifyReply) => {
    const input = mlflowInput(request, request.method === 'GET' ? querySearch.searchExperiments : bodySearch.searchExperiments);
    return sendMlflowJson(reply, await tracking.searchExperiments(requestContext(request), input));
  };
  app.get('/experiments/search', searchExperiments);
  app.post('/experiments/search', searchExperiments);

  // MLflow 1.x's listing, removed in 2.0 and kept here for old clients: a search without filter or order.
  app.get('/experiments/list', async (request, reply) => {
    const input = mlflowInput(request, schemas.listExperiments);
    return sendMlflowJson(reply, await tracking.searchExperiments(requestContext(request), input));
  });

  app.post('/experiments/update', async (request, reply) => {
    const input = mlflowInput(request, schemas.updateExperiment);
    await tracking.renameExperiment(requestContext(request), input.experiment_id, input.new_name);
    return sendMlflowJson(reply, {});
  });

  app.post('/experiments/delete', async (request, reply) => {
    const input = mlflowInput(request, experimentId);
    await tracking.deleteExperiment(requestContext(request), input.experiment_id);
    return sendMlflowJson(reply, {});
  });

  app.post('/experiments/restore', async (request, reply) => {
    const input = mlflowInput(request, experimentId);
    await tracking.restoreExperiment(requestContext(request), input.experiment_id);
    return sendMlflowJson(reply, {});
  });

  app.post('/experiments/set-experiment-tag', async (request, reply) => {
    const input = mlflowInput(request, schemas.experimentTag);
    await tracking.setExperimentTag(requestContext(request), input.experiment_id, { key: input.key, value: input.value });
    return sendMlflowJson(reply, {});
  });

  app.post('/experiments/delete-experiment-tag', async (request, reply) => {
    const input = mlflowInput(request, schemas.deleteExperimentTag);
    await tracking.deleteExperimentTag(requestContext(request), input.experiment_id, input.key);
    return sendMlflowJson(reply, {});
  });

  // ---- runs ----
  app.post('/runs/create', async (request, reply) => {
    const input = mlflowInput(request, schemas.createRun);
    return sendMlflowJson(reply, { run: await tracking.createRun(requestContext(request), input) });
  });

  app.get('/runs/get', async (request, reply) => {
    const input = mlflowInput(request, schemas.runOnly);
    return sendMlflowJson(reply, { run: await tracking.getRun(requestContext(request), runIdOf(input)) });
  });

  app.post('/runs/update', async (request, reply) => {
    const input = mlflowInput(request, schemas.updateRun);
    const runInfo = await tracking.updateRun(requestContext(request), runIdOf(input), {
      status: input.status,
      end_time: input.end_time,
      run_name: input.run_name,
    });
    return sendMlflowJson(reply, { run_info: runInfo });
  });

  app.post('/runs/delete', async (request, reply) => {
    const input = mlflowInput(request, schemas.runOnly);
    await tracking.deleteRun(requestContext(request), runIdOf(input));
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/restore', async (request, reply) => {
    const input = mlflowInput(request, schemas.runOnly);
    await tracking.restoreRun(requestContext(request), runIdOf(input));
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/log-metric', async (request, reply) => {
    const input = mlflowInput(request, schemas.logMetric);
    await tracking.logMetric(requestContext(request), runIdOf(input), {
      key: input.key,
      value: input.value,
      timestamp: input.timestamp,
      step: input.step ?? 0,
    });
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/log-parameter', async (request, reply) => {
    const input = mlflowInput(request, schemas.logParam);
    await tracking.logParam(requestContext(request), runIdOf(input), { key: input.key, value: input.value });
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/set-tag', async (request, reply) => {
    const input = mlflowInput(request, schemas.setTag);
    await tracking.setTag(requestContext(request), runIdOf(input), { key: input.key, value: input.value });
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/delete-tag', async (request, reply) => {
    const input = mlflowInput(request, schemas.deleteTag);
    await tracking.deleteTag(requestContext(request), runIdOf(input), input.key);
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/log-batch', async (request, reply) => {
    validateBatchRequestSize(request.bodyBytes);
    const input = plainLogBatch(request.body) ?? mlflowInput(request, schemas.logBatch);
    const metrics = input.metrics ?? [];
    for (const m of metrics) if (m.step === undefined) m.step = 0;
    await tracking.logBatch(requestContext(request), runIdOf(input), {
      metrics: metrics as { key: string; value: number; timestamp: number; step: number }[],
      params: input.params,
      tags: input.tags,
    });
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/log-model', async (request, reply) => {
    const input = mlflowInput(request, schemas.logModel);
    await tracking.logModel(requestContext(request), runIdOf(input), input.model_json);
    return sendMlflowJson(reply, {});
  });

  app.post('/runs/log-inputs', async (request, reply) => {
    const input = mlflowInput(request, schemas.logInputs);
    await tracking.logInputs(
      requestContext(request),
      runIdOf(input),
      (input.datasets ?? []).map((d) => ({ tags: d.tags ?? [], dataset: d.dataset })),
    );
    return sendMlflowJson(reply, {});
  });

  const searchRuns = async (request: FastifyRequest, reply: FastifyReply) => {
    const input = mlflowInput(request, request.method === 'GET' ? querySearch.searchRuns : bodySearch.searchRuns);
    return sendMlflowJson(reply, await tracking.searchRuns(requestContext(request), { ...input, experiment_ids: input.experiment_ids ?? [] }));
  };
  app.post('/runs/search', searchRuns);
  app.get('/runs/search', searchRuns);

  app.get('/metrics/get-history', async (request, reply) => {
    const input = mlflowInput(request, schemas.metricHistory);
    const page = await tracking.getMetricHistory(requestContext(request), runIdOf(input), input.metric_key, {
      max_results: input.max_results,
      page_token: input.page_token,
    });
    return sendMlflowJson(reply, page);
  });
}
