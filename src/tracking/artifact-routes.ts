/**
 * MLflow's proxied artifact routes (`/api/2.0/mlflow-artifacts/artifacts...`) and the run artifact
 * listing `/api/2.0/mlflow/artifacts/list`, thin over {@link ArtifactService}.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalidParam } from '../core/errors.ts';
import { sendDownload } from '../server/download.ts';
import { requestContext, requestInput, sendMlflowJson } from '../server/http.ts';
import { streamRequestBody } from '../server/upload.ts';
import type { ArtifactService } from './artifacts.ts';
import type { TrackingService } from './service.ts';

const listQuery = z.object({ path: z.string().optional() });

const runListQuery = z
  .object({
    run_id: z.string().optional(),
    run_uuid: z.string().optional(),
    path: z.string().optional(),
    page_token: z.string().optional(),
  })
  .refine((q) => (q.run_id ?? q.run_uuid ?? '') !== '', { message: "Missing value for required parameter 'run_id'.", path: ['run_id'] });

/**
 * The artifact path of a `/artifacts/<path>` request. Fastify has decoded the wildcard once;
 * `ArtifactService` decodes the rest. A raw `#` never reaches the router intact (it ends the path
 * there), so it is looked for in the raw request target.
 */
function wildcardPath(request: FastifyRequest): string {
  const target = request.raw.url ?? '';
  const query = target.indexOf('?');
  if ((query === -1 ? target : target.slice(0, query)).includes('#')) {
    throw invalidParam('path', `path in ${JSON.stringify(target)} is not allowed: it contains "?" or "#"`);
  }
  return (request.params as Record<string, string>)['*'] ?? '';
}

/** Uploads the request body, streaming; see {@link ArtifactService.upload}. */
async function upload(request: FastifyRequest, reply: FastifyReply, artifacts: ArtifactService): Promise<FastifyReply> {
  const path = wildcardPath(request);
  await streamRequestBody(request, reply, (body) => artifacts.upload(requestContext(request), path, body.stream, body.declaredBytes));
  return sendMlflowJson(reply, {});
}

/** Registers the proxied artifact routes on `app` (mounted under `/api/2.0/mlflow-artifacts`). */
export async function trackingArtifactRoutes(app: FastifyInstance, deps: { artifacts: ArtifactService }): Promise<void> {
  const { artifacts } = deps;
  // Artifacts are any bytes: accept every content type (and none), and hand the raw stream through.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.get('/artifacts', async (request, reply) => {
    const query = requestInput(request, listQuery);
    return sendMlflowJson(reply, { files: await artifacts.list(query.path) });
  });

  app.put('/artifacts/*', (request, reply) => upload(request, reply, artifacts));

  app.get('/artifacts/*', async (request, reply) => {
    const download = await artifacts.download(wildcardPath(request));
    return sendDownload(reply, download);
  });

  app.delete('/artifacts/*', async (request, reply) => {
    await artifacts.delete(requestContext(request), wildcardPath(request));
    return sendMlflowJson(reply, {});
  });
}

/** Registers `GET /artifacts/list` on `app` (mounted under `/api/2.0/mlflow`). */
export async function trackingArtifactListRoute(
  app: FastifyInstance,
  deps: { artifacts: ArtifactService; tracking: TrackingService },
): Promise<void> {
  app.get('/artifacts/list', async (request, reply) => {
    const query = requestInput(request, runListQuery);
    // The path is checked before the run is looked up, so that a traversal attempt is refused as such.
    if (query.path !== undefined) deps.artifacts.artifactKey(query.path, 'path', true);
    const run = await deps.tracking.getRun(requestContext(request), (query.run_id ?? query.run_uuid)!);
    const rootUri = run.info.artifact_uri;
    return sendMlflowJson(reply, { root_uri: rootUri, files: await deps.artifacts.listRun(rootUri, query.path) });
  });
}
