/**
 * HTTP routes of the feature store: mloop's own API under `/api/v1/features` (and the impact query
 * under `/api/v1/lineage`), and Feast's feature-server `POST /get-online-features` so that Feast
 * clients can read. Thin: validation here, logic in {@link FeatureStoreService}.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalidParam } from '../core/errors.ts';
import { parseInput } from '../core/validation.ts';
import { toMloopError } from '../server/errors.ts';
import { requestContext, requestInput, stringifyMlflowJson } from '../server/http.ts';
import { DEFINITION_KINDS, type DefinitionKind } from './domain.ts';
import type { FeatureStoreService, OnlineResult, Progress } from './service.ts';

const NAME = z.string({ error: 'expected a name' }).regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'expected a name of letters, digits and "_"');
const REF = z.string({ error: 'expected "view:feature"' }).min(1).max(300);

/** A time as epoch milliseconds or an ISO 8601 string. */
const time = z.union([z.number().int('expected whole epoch milliseconds'), z.string()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `expected an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

const selector = {
  feature_service: NAME.optional(),
  features: z.array(REF).max(10_000).optional(),
  full_feature_names: z.boolean({ error: 'expected true or false' }).optional(),
};

const entityColumns = z.record(z.string(), z.array(z.unknown(), { error: 'expected an array of values' }), { error: 'expected an object of columns' });
const rowsSchema = z.array(z.record(z.string(), z.unknown(), { error: 'expected an object' }), { error: 'expected an array of rows' }).max(1_000_000);

const schemas = {
  apply: z.union([z.strictObject({ yaml: z.string().max(8 * 1024 * 1024) }), z.record(z.string(), z.unknown())]),
  list: z.object({ kind: z.enum(DEFINITION_KINDS, { error: `expected one of ${DEFINITION_KINDS.join(', ')}` }).optional() }),
  definition: z.object({ kind: z.enum(DEFINITION_KINDS, { error: `expected one of ${DEFINITION_KINDS.join(', ')}` }), name: NAME }),
  version: z.object({ version: z.string().regex(/^[0-9a-f]{6,64}$/, 'expected a sha256 or a hex prefix of at least 6').optional() }),
  online: z.strictObject({ ...selector, entities: entityColumns.optional(), entity_rows: rowsSchema.optional() }),
  push: z.strictObject({
    feature_view: NAME,
    rows: rowsSchema.optional(),
    df: entityColumns.optional(),
    to: z.enum(['online', 'offline', 'online_and_offline'], { error: 'expected online, offline or online_and_offline' }).optional(),
  }),
  retrieve: z.strictObject({
    ...selector,
    entity_rows: rowsSchema.optional(),
    entity_dataset: z.string().min(1).max(300).optional(),
    timestamp_column: z.string().min(1).max(255).optional(),
    save_as: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'expected a dataset name').optional(),
    return_rows: z.number().int().min(0).max(100_000).optional(),
  }),
  materialize: z.strictObject({
    views: z.array(NAME).max(1000).optional(),
    start: time.optional(),
    end: time.optional(),
    incremental: z.boolean({ error: 'expected true or false' }).optional(),
  }),
  skew: z.strictObject({
    ...selector,
    logged_dataset: z.string().min(1).max(300).optional(),
    logged_rows: rowsSchema.optional(),
    timestamp_column: z.string().min(1).max(255).optional(),
    tolerance: z.number().min(0).max(1).optional(),
  }),
  consumers: z.strictObject({
    model: z.string().min(1).max(256),
    version: z.union([z.string().regex(/^\d+$/, 'expected a version number'), z.number().int().min(1)]),
    feature_service: NAME,
  }),
  impact: z.object({ feature_view: NAME }),
  feast: z.object({
    features: z.array(REF).max(10_000).optional(),
    feature_service: NAME.optional(),
    entities: entityColumns,
    full_feature_names: z.boolean().optional(),
  }),
};

/** Sends JSON with NaN and ±Infinity as strings (JSON has no form for them). */
function sendJson(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.type('application/json').send(stringifyMlflowJson(body));
}

/** Turns `[{a: 1, b: 2}, ...]` into `{a: [1, ...], b: [2, ...]}`. */
function rowsToColumns(rows: readonly Record<string, unknown>[]): Record<string, unknown[]> {
  const columns: Record<string, unknown[]> = {};
  rows.forEach((row, i) => {
    for (const [k, v] of Object.entries(row)) (columns[k] ??= new Array(rows.length).fill(null))[i] = v;
  });
  return columns;
}

/** Turns `{a: [1, ...], b: [2, ...]}` into rows; columns must have one length. */
function columnsToRows(columns: Readonly<Record<string, readonly unknown[]>>, field: string): Record<string, unknown>[] {
  const names = Object.keys(columns);
  const n = names.length === 0 ? 0 : columns[names[0]].length;
  for (const name of names) if (columns[name].length !== n) throw invalidParam(`${field}.${name}`, `has ${columns[name].length} values, other columns ${n}`);
  return Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((c) => [c, columns[c][i]])));
}

/** Streams progress as NDJSON when the client asks for it (`Accept: application/x-ndjson`). */
async function withProgress<T>(request: FastifyRequest, reply: FastifyReply, work: (onProgress?: (p: Progress) => void) => Promise<T>): Promise<FastifyReply> {
  if (!String(request.headers.accept ?? '').includes('application/x-ndjson')) return sendJson(reply, await work());
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-request-id': String(request.id) });
  try {
    const result = await work((p) => raw.write(`${JSON.stringify({ progress: p })}\n`));
    raw.write(`${stringifyMlflowJson({ result })}\n`);
  } catch (error) {
    // The status line has gone: the error is the last line, as the error handler would have put it.
    const e = toMloopError(error);
    if (e.status >= 500) request.log.error({ err: e.cause ?? e }, 'request failed');
    raw.write(`${JSON.stringify({ error: { code: e.code, message: e.message, fields: e.fields } })}\n`);
  }
  raw.end();
  return reply;
}

/** Renders an online result in mloop's shape: one object per entity row. */
function nativeOnline(result: OnlineResult) {
  return {
    feature_names: result.feature_names,
    results: result.rows.map((row) => ({
      entity: row.entity,
      values: Object.fromEntries(result.feature_names.map((f) => [f, row.features[f].value])),
      statuses: Object.fromEntries(result.feature_names.map((f) => [f, row.features[f].status])),
      event_timestamps: Object.fromEntries(result.feature_names.map((f) => [f, row.features[f].event_timestamp])),
    })),
  };
}

const FEAST_EPOCH = '1970-01-01T00:00:00Z';

/** Renders an online result in Feast's feature-server shape: one column per name, entity keys first. */
export function feastOnline(result: OnlineResult) {
  const feastTime = (iso: string | null) => (iso === null ? FEAST_EPOCH : iso.replace(/\.000Z$/, 'Z'));
  return {
    metadata: { feature_names: [...result.entity_names, ...result.feature_names] },
    results: [
      ...result.entity_names.map((name) => ({
        values: result.rows.map((r) => r.entity[name]),
        statuses: result.rows.map(() => 'PRESENT'),
        event_timestamps: result.rows.map(() => FEAST_EPOCH),
      })),
      ...result.feature_names.map((name) => ({
        values: result.rows.map((r) => r.features[name].value),
        statuses: result.rows.map((r) => r.features[name].status),
        event_timestamps: result.rows.map((r) => feastTime(r.features[name].event_timestamp)),
      })),
    ],
  };
}

/** mloop's feature-store routes (under /api/v1). */
export async function featureRoutes(app: FastifyInstance, deps: { features: FeatureStoreService }): Promise<void> {
  const features = deps.features;

  app.post('/features/apply', async (request, reply) => {
    const body = requestInput(request, schemas.apply);
    const input = typeof body.yaml === 'string' && Object.keys(body).length === 1 ? body.yaml : body;
    return sendJson(reply, await features.apply(requestContext(request), input));
  });

  app.get('/features/definitions', async (request, reply) => {
    const { kind } = requestInput(request, schemas.list);
    return sendJson(reply, { definitions: await features.list(requestContext(request), kind) });
  });

  app.get('/features/definitions/:kind/:name', async (request, reply) => {
    const { kind, name } = parseInput(schemas.definition, request.params, 'path');
    const { version } = requestInput(request, schemas.version);
    return sendJson(reply, await features.get(requestContext(request), kind as DefinitionKind, name, version));
  });

  app.get('/features/definitions/:kind/:name/versions', async (request, reply) => {
    const { kind, name } = parseInput(schemas.definition, request.params, 'path');
    return sendJson(reply, { versions: await features.versions(requestContext(request), kind as DefinitionKind, name) });
  });

  app.post('/features/online', async (request, reply) => {
    const body = requestInput(request, schemas.online);
    if ((body.entities === undefined) === (body.entity_rows === undefined)) throw invalidParam('entities', 'give either entities (columns) or entity_rows');
    const entities = body.entities ?? rowsToColumns(body.entity_rows!);
    const result = await features.getOnlineFeatures(requestContext(request), { ...body, entities });
    return sendJson(reply, nativeOnline(result));
  });

  app.post('/features/push', async (request, reply) => {
    const body = requestInput(request, schemas.push);
    if ((body.rows === undefined) === (body.df === undefined)) throw invalidParam('rows', 'give either rows or df (columns)');
    const rows = body.rows ?? columnsToRows(body.df!, 'df');
    return sendJson(reply, await features.push(requestContext(request), { feature_view: body.feature_view, rows, to: body.to }));
  });

  app.post('/features/retrieve', async (request, reply) => {
    const body = requestInput(request, schemas.retrieve);
    return withProgress(request, reply, (onProgress) => features.retrieve(requestContext(request), body, onProgress));
  });

  app.post('/features/materialize', async (request, reply) => {
    const body = requestInput(request, schemas.materialize);
    return withProgress(request, reply, (onProgress) => features.materialize(requestContext(request), body, onProgress));
  });

  app.post('/features/skew', async (request, reply) => {
    const body = requestInput(request, schemas.skew);
    if ((body.logged_dataset === undefined) === (body.logged_rows === undefined)) throw invalidParam('logged_dataset', 'give either logged_dataset or logged_rows');
    return sendJson(reply, await features.skew(requestContext(request), body));
  });

  app.post('/features/consumers', async (request, reply) => {
    const body = requestInput(request, schemas.consumers);
    return sendJson(reply.status(201), await features.linkModelVersion(requestContext(request), body));
  });

  app.get('/lineage/impact', async (request, reply) => {
    const { feature_view } = requestInput(request, schemas.impact);
    return sendJson(reply, await features.impact(requestContext(request), feature_view));
  });
}

/** Feast's feature-server read route, at the root: `POST /get-online-features`. */
export async function feastRoutes(app: FastifyInstance, deps: { features: FeatureStoreService }): Promise<void> {
  app.post('/get-online-features', async (request, reply) => {
    const body = requestInput(request, schemas.feast);
    const result = await deps.features.getOnlineFeatures(requestContext(request), body);
    return sendJson(reply, feastOnline(result));
  });
}
