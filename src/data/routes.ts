/**
 * The datasets API (under `/api/v1`), thin over {@link DatasetService}.
 *
 * Uploads: `POST /datasets/{name}/versions` with the file as the raw body. The format comes from
 * `?format=csv|parquet|jsonl`, else from the Content-Type (`text/csv`, `application/vnd.apache.parquet`,
 * `application/x-ndjson`; `application/octet-stream` needs `?format=`). A declared schema is given as
 * `?schema=<JSON>` for this upload, or stored beforehand with `PUT /datasets/{name}/schema` for every
 * later upload. `?source=` records the file name. 201 with the new version, 200 when the content
 * already was a version.
 *
 * Versions are named by sha256, a unique hex prefix (6+ characters) or `latest`.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalidParam, MloopError } from '../core/errors.ts';
import { parseInput } from '../core/validation.ts';
import { sendDownload } from '../server/download.ts';
import { requestContext } from '../server/http.ts';
import { streamRequestBody } from '../server/upload.ts';
import { parseVersionRef, validateVersionSelector, type DataFormat, type VersionRef } from './domain.ts';
import type { DatasetService } from './service.ts';

/** Content types of uploads, by format. */
export const UPLOAD_CONTENT_TYPES: Readonly<Record<DataFormat, readonly string[]>> = {
  csv: ['text/csv', 'application/csv'],
  parquet: ['application/vnd.apache.parquet', 'application/parquet', 'application/x-parquet'],
  jsonl: ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines'],
};

const jsonText = (field: string) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `${field} must be JSON` });
        return z.NEVER;
      }
    });

const uploadQuery = z.object({
  format: z.enum(['csv', 'parquet', 'jsonl'], { error: 'expected csv, parquet or jsonl' }).optional(),
  schema: jsonText('schema'),
  source: z.string().max(1000).optional(),
  description: z.string().max(10_000).optional(),
});

const getQuery = z.object({ profile: z.enum(['true', 'false']).optional() });
const contentQuery = z.object({ format: z.enum(['parquet', 'csv'], { error: 'expected parquet or csv' }).optional() });
const diffQuery = z.object({ base: z.string({ error: 'give base=<version> or base=<dataset>@<version>' }).min(1) });
const usableQuery = z.object({ require_validation: z.enum(['true', 'false']).optional() });
const dependentBody = z.object({ kind: z.string(), id: z.string() });

type NameParams = { name: string };
type VersionParams = { name: string; version: string };

function formatOf(request: FastifyRequest, given: DataFormat | undefined): DataFormat {
  if (given) return given;
  const type = String(request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  for (const [format, types] of Object.entries(UPLOAD_CONTENT_TYPES)) if (types.includes(type)) return format as DataFormat;
  throw new MloopError(
    'UNSUPPORTED_MEDIA_TYPE',
    `cannot tell the format of a ${type || 'body without Content-Type'}: send text/csv, application/vnd.apache.parquet or application/x-ndjson, or give ?format=csv|parquet|jsonl`,
  );
}

/** `v` (same dataset) or `name@v`. */
function baseRef(text: string, name: string): VersionRef {
  return text.includes('@') ? parseVersionRef(text, 'base') : { name, version: validateVersionSelector(text, 'base') };
}

async function upload(request: FastifyRequest<{ Params: NameParams }>, reply: FastifyReply, datasets: DatasetService): Promise<FastifyReply> {
  const query = parseInput(uploadQuery, request.query ?? {}, 'query');
  // A JSON body has been parsed already; the data file must come as the raw body.
  if (request.body !== undefined && !(request.body instanceof Readable)) {
    throw new MloopError('UNSUPPORTED_MEDIA_TYPE', 'upload the file as the raw body (text/csv, application/vnd.apache.parquet, application/x-ndjson or application/octet-stream), not as application/json');
  }
  const format = formatOf(request, query.format);
  const added = await streamRequestBody(request, reply, ({ stream, declaredBytes }) =>
    datasets.addVersion(requestContext(request), request.params.name, stream, {
      format,
      schema: query.schema,
      sourceName: query.source,
      description: query.description,
      expectedBytes: declaredBytes,
    }),
  );
  return reply.status(added.created ? 201 : 200).send(added);
}

/** Registers the `/datasets...` routes on `app` (mounted under `/api/v1`), in their own scope. */
export async function datasetRoutes(app: FastifyInstance, deps: { datasets: DatasetService }): Promise<void> {
  const datasets = deps.datasets;
  await app.register(async (scope) => {
    // Data files arrive as raw streams; only this scope accepts these types (JSON stays JSON).
    const rawTypes = [...Object.values(UPLOAD_CONTENT_TYPES).flat(), 'application/octet-stream'];
    scope.addContentTypeParser(rawTypes, (_request, payload, done) => done(null, payload));
    scope.addContentTypeParser('*', (request, _payload, done) => {
      const type = String(request.headers['content-type'] ?? '').split(';')[0].trim() || 'no Content-Type';
      const upload = request.method === 'POST' && /\/versions\/?(\?|$)/.test(request.url);
      done(
        new MloopError(
          'UNSUPPORTED_MEDIA_TYPE',
          upload
            ? `cannot upload ${type}: send text/csv, application/vnd.apache.parquet or application/x-ndjson, or application/octet-stream with ?format=csv|parquet|jsonl`
            : `expected application/json, got ${type}`,
        ),
        undefined,
      );
    });

    scope.get('/datasets', async (request) => ({ datasets: await datasets.listDatasets(requestContext(request)) }));

    scope.get<{ Params: NameParams }>('/datasets/:name', async (request) => datasets.getDataset(requestContext(request), request.params.name));

    scope.delete<{ Params: NameParams }>('/datasets/:name', async (request) => datasets.deleteDataset(requestContext(request), request.params.name));

    scope.get<{ Params: NameParams }>('/datasets/:name/schema', async (request) => {
      const dataset = await datasets.getDataset(requestContext(request), request.params.name);
      return { schema: dataset.declared_schema ?? null };
    });

    scope.put<{ Params: NameParams }>('/datasets/:name/schema', async (request) => {
      if (request.body === undefined || typeof request.body !== 'object' || request.body === null || Array.isArray(request.body)) {
        throw invalidParam('body', 'expected a JSON schema document: {"columns": [{"name": ..., "type": ..., "nullable": ..., "tags": [...]}]}');
      }
      const dataset = await datasets.setDeclaredSchema(requestContext(request), request.params.name, request.body);
      return { schema: dataset.declared_schema ?? null };
    });

    scope.delete<{ Params: NameParams }>('/datasets/:name/schema', async (request) => {
      await datasets.setDeclaredSchema(requestContext(request), request.params.name, null);
      return { schema: null };
    });

    scope.post<{ Params: NameParams }>('/datasets/:name/versions', (request, reply) => upload(request, reply, datasets));

    scope.get<{ Params: NameParams }>('/datasets/:name/versions', async (request) => ({
      versions: await datasets.listVersions(requestContext(request), request.params.name),
    }));

    scope.get<{ Params: NameParams }>('/datasets/:name/dependents', async (request) => ({
      dependents: await datasets.listDependents(requestContext(request), request.params.name),
    }));

    scope.get<{ Params: VersionParams }>('/datasets/:name/versions/:version', async (request) => {
      const query = parseInput(getQuery, request.query ?? {}, 'query');
      return datasets.getVersion(requestContext(request), request.params.name, request.params.version, { profile: query.profile !== 'false' });
    });

    scope.delete<{ Params: VersionParams }>('/datasets/:name/versions/:version', async (request) =>
      datasets.deleteVersion(requestContext(request), request.params.name, request.params.version),
    );

    scope.get<{ Params: VersionParams }>('/datasets/:name/versions/:version/profile', async (request) =>
      datasets.getProfile(requestContext(request), request.params.name, request.params.version),
    );

    scope.get<{ Params: VersionParams }>('/datasets/:name/versions/:version/content', async (request, reply) => {
      const query = parseInput(contentQuery, request.query ?? {}, 'query');
      const download = await datasets.download(requestContext(request), request.params.name, request.params.version, query.format ?? 'parquet');
      return sendDownload(reply, download);
    });

    scope.get<{ Params: VersionParams }>('/datasets/:name/versions/:version/diff', async (request) => {
      const query = parseInput(diffQuery, request.query ?? {}, 'query');
      return datasets.diff(requestContext(request), baseRef(query.base, request.params.name), { name: request.params.name, version: request.params.version });
    });

    scope.get<{ Params: VersionParams }>('/datasets/:name/versions/:version/usable', async (request) => {
      const query = parseInput(usableQuery, request.query ?? {}, 'query');
      const version = await datasets.assertUsable(requestContext(request), request.params.name, request.params.version, {
        requireValidation: query.require_validation === 'true',
      });
      return { usable: true, dataset: version.dataset, version: version.version, validation: version.validation };
    });

    scope.post<{ Params: VersionParams }>('/datasets/:name/versions/:version/validations', async (request, reply) => {
      const report = await datasets.validate(requestContext(request), request.params.name, request.params.version, request.body ?? {});
      return reply.status(201).send(report);
    });

    scope.get<{ Params: VersionParams }>('/datasets/:name/versions/:version/validations', async (request) => ({
      validations: await datasets.listValidations(requestContext(request), request.params.name, request.params.version),
    }));

    scope.delete<{ Params: VersionParams & { id: string } }>('/datasets/:name/versions/:version/validations/:id', async (request) =>
      datasets.deleteValidation(requestContext(request), request.params.name, request.params.version, request.params.id),
    );

    scope.get<{ Params: { name: string; id: string } }>('/datasets/:name/validations/:id', async (request) =>
      datasets.getValidation(requestContext(request), request.params.id, request.params.name),
    );

    scope.get<{ Params: VersionParams }>('/datasets/:name/versions/:version/dependents', async (request) => ({
      dependents: await datasets.listDependents(requestContext(request), request.params.name, request.params.version),
    }));

    scope.post<{ Params: VersionParams }>('/datasets/:name/versions/:version/dependents', async (request, reply) => {
      const body = parseInput(dependentBody, request.body ?? {}, 'body');
      const version = await datasets.addDependent(requestContext(request), { name: request.params.name, version: request.params.version }, body);
      return reply.status(201).send({ dataset: version.dataset, version: version.version, kind: body.kind, id: body.id });
    });

    scope.delete<{ Params: VersionParams }>('/datasets/:name/versions/:version/dependents', async (request) => {
      const body = parseInput(dependentBody, request.body ?? request.query ?? {}, 'body');
      const removed = await datasets.removeDependent(requestContext(request), { name: request.params.name, version: request.params.version }, body);
      if (!removed) throw new MloopError('RESOURCE_DOES_NOT_EXIST', `no dependent ${body.kind} ${body.id} on that version`);
      return { removed: true };
    });
  });
}
