/**
 * The training API (under `/api/v1`), thin over {@link TrainingService}:
 *
 * - `POST /training/jobs` — a training request (see `spec.ts`); 202 with the QUEUED job, or 400 naming
 *   the bad field before any work starts. `?dry_run=true` answers 200 with the resolved plan instead.
 * - `POST /training/tuning-jobs` — a tuning request; 202 with the job (same checks, every candidate too).
 * - `GET /training/jobs`, `GET /training/jobs/:id`, `POST /training/jobs/:id/cancel` (tuning jobs are
 *   training jobs of kind `tuning`; `GET /training/tuning-jobs/:id` shows one too).
 * - `GET /training/model-kinds` — the model kinds with their tasks and default hyperparameters.
 * - `POST /models/:name/versions/onnx` — registers an ONNX file trained elsewhere (the raw body,
 *   `application/octet-stream` or `application/onnx`); `?task=&target=&classes=a,b&probabilities_output=
 *   &value_output=&label_output=&columns=c1,c2&description=` describe it where its outputs do not. 201 with the version
 *   and the signature read from the file; 400 for files that are not ONNX, that onnxruntime cannot load,
 *   or whose tensors keep data in external files (see `external-onnx.ts`).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MloopError } from '../core/errors.ts';
import { parseInput } from '../core/validation.ts';
import { jobListQuery } from '../jobs/routes.ts';
import { requestContext, requestInput } from '../server/http.ts';
import type { TrainingService } from './service.ts';

const submitQuery = z.object({ dry_run: z.enum(['true', 'false'], { error: 'expected true or false' }).optional() });

const onnxQuery = z.object({
  task: z.enum(['binary', 'multiclass', 'regression', 'classification'], { error: 'expected binary, multiclass, regression or classification' }).optional(),
  target: z.string().min(1).max(1000).optional(),
  classes: z
    .string()
    .max(100_000)
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : v.split(',').map((c) => c.trim()))),
  probabilities_output: z.string().min(1).max(1000).optional(),
  value_output: z.string().min(1).max(1000).optional(),
  label_output: z.string().min(1).max(1000).optional(),
  columns: z
    .string()
    .max(1_000_000)
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : v.split(',').map((c) => c.trim()))),
  description: z.string().max(10_000).optional(),
});

/** Content types an ONNX upload may have. */
export const ONNX_CONTENT_TYPES = ['application/octet-stream', 'application/onnx', 'application/x-onnx'];

type IdParams = { id: string };

/** Registers `/training/...` on `app`. */
export async function trainingRoutes(app: FastifyInstance, deps: { training: TrainingService }): Promise<void> {
  const training = deps.training;

  app.get('/training/model-kinds', async () => ({ model_kinds: training.modelKinds() }));

  app.post('/training/jobs', async (request, reply) => {
    const query = parseInput(submitQuery, request.query ?? {}, 'query');
    const ctx = requestContext(request);
    if (query.dry_run === 'true') return { plan: await training.planTraining(ctx, request.body) };
    return reply.status(202).send(await training.submitTraining(ctx, request.body));
  });

  app.post('/training/tuning-jobs', async (request, reply) => {
    const query = parseInput(submitQuery, request.query ?? {}, 'query');
    const ctx = requestContext(request);
    if (query.dry_run === 'true') return { plan: await training.planTuning(ctx, request.body) };
    return reply.status(202).send(await training.submitTuning(ctx, request.body));
  });

  app.get('/training/jobs', async (request) => {
    const query = requestInput(request, jobListQuery);
    return training.listJobs(requestContext(request), { ...query, ...(query.kind ? { kinds: [query.kind] } : {}) });
  });

  app.get<{ Params: IdParams }>('/training/jobs/:id', async (request) => training.getJob(requestContext(request), request.params.id));

  app.get<{ Params: IdParams }>('/training/tuning-jobs/:id', async (request) => training.getJob(requestContext(request), request.params.id, ['tuning']));

  app.post<{ Params: IdParams }>('/training/jobs/:id/cancel', async (request) => training.cancelJob(requestContext(request), request.params.id));

  await app.register(async (scope) => {
    // The ONNX file arrives as the raw body; only this scope accepts these types.
    scope.addContentTypeParser(ONNX_CONTENT_TYPES, (_request, payload, done) => done(null, payload));
    scope.post<{ Params: { name: string } }>('/models/:name/versions/onnx', async (request, reply) => {
      const query = parseInput(onnxQuery, request.query ?? {}, 'query');
      if (!(request.body instanceof Readable)) {
        throw new MloopError('UNSUPPORTED_MEDIA_TYPE', `upload the ONNX file as the raw body with Content-Type ${ONNX_CONTENT_TYPES.join(' or ')}`);
      }
      const limit = training.maxOnnxBytes;
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) throw new MloopError('PAYLOAD_TOO_LARGE', `the ONNX file is ${declared} bytes; at most ${limit} are accepted`);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request.body) {
        size += (chunk as Buffer).length;
        if (size > limit) throw new MloopError('PAYLOAD_TOO_LARGE', `the ONNX file exceeds ${limit} bytes`);
        chunks.push(chunk as Buffer);
      }
      const bytes = Buffer.concat(chunks);
      const result = await training.registerOnnx(requestContext(request), request.params.name, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        ...(query.task ? { task: query.task } : {}),
        ...(query.target ? { target: query.target } : {}),
        ...(query.classes ? { classes: query.classes } : {}),
        ...(query.probabilities_output ? { probabilitiesOutput: query.probabilities_output } : {}),
        ...(query.value_output ? { valueOutput: query.value_output } : {}),
        ...(query.label_output ? { labelOutput: query.label_output } : {}),
        ...(query.columns ? { columns: query.columns } : {}),
        ...(query.description ? { description: query.description } : {}),
      });
      return reply.status(201).send(result);
    });
  });
}
