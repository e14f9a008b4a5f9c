/**
 * The HTTP server: Fastify with request ids, structured logs, Prometheus metrics, a strict input
 * policy (JSON bodies only, no NUL characters anywhere), and every module's routes under their prefixes.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { ServerConfig } from '../core/config.ts';
import { MloopError } from '../core/errors.ts';
import { datasetRoutes } from '../data/routes.ts';
import { evaluationRoutes } from '../evaluation/routes.ts';
import { feastRoutes, featureRoutes } from '../features/routes.ts';
import { newUuid } from '../core/ids.ts';
import { rejectNul } from '../core/validation.ts';
import { jobRoutes } from '../jobs/routes.ts';
import { registryMlflowRoutes } from '../registry/mlflow-routes.ts';
import { registryRoutes } from '../registry/routes.ts';
import type { BlobStore, MetadataStore, OnlineStore } from '../storage/ports.ts';
import { trackingArtifactListRoute, trackingArtifactRoutes } from '../tracking/artifact-routes.ts';
import { trackingMlflowRoutes } from '../tracking/mlflow-routes.ts';
import { trackingRoutes } from '../tracking/routes.ts';
import { trainingRoutes } from '../training/routes.ts';
import { mlflowErrorHandler, problemErrorHandler } from './errors.ts';
import { parseJsonBody } from './json-body.ts';
import { installHttpMetrics } from './metrics.ts';
import { createServices, type Services } from './services.ts';

/** What the app is built from. Stores are opened and migrated by the caller. */
export interface AppDeps {
  readonly config: Pick<ServerConfig, 'bodyLimitBytes' | 'maxArtifactBytes'> & Partial<Pick<ServerConfig, 'home' | 'online'>>;
  readonly metadata: MetadataStore;
  /** The online feature store; opened from `config.online` when absent. */
  readonly online?: OnlineStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The built app with its services (tests reach into them). */
export interface App {
  readonly http: FastifyInstance;
  readonly services: Services;
  /** Every route the app serves (method and URL pattern), for tests that walk the route table. */
  readonly routes: readonly RouteSummary[];
}

/** One entry of the route table. */
export interface RouteSummary {
  readonly method: string;
  readonly url: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The size in bytes of the JSON body as received (chunked or not); 0 without a body. */
    bodyBytes: number;
  }
}

const REQUEST_ID_HEADER = 'x-request-id';
/** URLs answered in MLflow's error shape: `/api/2.0/…` and its `/ajax-api/2.0/…` twin. */
const MLFLOW_URL = /^\/(ajax-)?api\/2\.0\//;

/** Builds the Fastify app; call `listen` on `http` to serve. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const http = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimitBytes,
    requestIdHeader: REQUEST_ID_HEADER,
    genReqId: () => newUuid(),
    return503OnClosing: true,
    forceCloseConnections: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    // A URL Fastify cannot decode never reaches a route's error handler; render it like one.
    frameworkErrors: (error, request, reply) =>
      (MLFLOW_URL.test(request.url) ? mlflowErrorHandler : problemErrorHandler)(error, request, reply),
  });
  const services = createServices(deps);
  const routes: RouteSummary[] = [];
  http.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });
  http.addHook('onClose', async () => services.datasets.close());
  http.addHook('onClose', async () => services.features.close());
  http.addHook('onClose', async () => services.jobs.close());
  // Jobs a previous life of this server left unfinished end as FAILED now.
  await services.jobs.recoverInterrupted({ atStartup: true });

  // Only JSON is a request body here; text/plain (the form-post CSRF vector) gets 415.
  http.removeAllContentTypeParsers();
  http.decorateRequest('bodyBytes', 0);
  http.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      request.bodyBytes = Buffer.byteLength(body as string);
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // A NUL reaches a path parameter or the query only percent-encoded; bodies are checked by parseJsonBody.
  http.addHook('onRequest', async (request) => {
    if (!request.url.includes('%00')) return;
    rejectNul(request.params, 'path');
    rejectNul(request.query, 'query');
  });
  http.addHook('onSend', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });

  const metrics = installHttpMetrics(http);
  http.setErrorHandler(problemErrorHandler);
  http.setNotFoundHandler((request, reply) =>
    problemErrorHandler(new MloopError('ENDPOINT_NOT_FOUND', `no route for ${request.method} ${request.url}`), request, reply),
  );

  http.get('/healthz', async () => ({ status: 'ok' }));
  http.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    for (const [name, probe] of [
      ['metadata', () => deps.metadata.ping()],
      ['artifacts', () => deps.blobs.ping()],
      ['online', () => services.features.deps.online.ping()],
    ] as const) {
      try {
        await probe();
        checks[name] = 'ok';
      } catch (error) {
        checks[name] = `unavailable: ${(error as Error).message}`;
      }
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
  http.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  // MLflow serves the same API under `/ajax-api` too (its web UI calls that prefix).
  for (const base of ['/api/2.0', '/ajax-api/2.0']) {
    await http.register(
      async (mlflow) => {
        useMlflowErrors(mlflow);
        await trackingMlflowRoutes(mlflow, services);
        await registryMlflowRoutes(mlflow, services);
        await trackingArtifactListRoute(mlflow, services);
      },
      { prefix: `${base}/mlflow` },
    );
    await http.register(
      async (artifacts) => {
        useMlflowErrors(artifacts);
        await trackingArtifactRoutes(artifacts, services);
      },
      { prefix: `${base}/mlflow-artifacts` },
    );
  }
  await http.register(
    async (v1) => {
      await trackingRoutes(v1, services);
      await registryRoutes(v1, services);
      await datasetRoutes(v1, services);
      await featureRoutes(v1, services);
      await jobRoutes(v1, services);
      await trainingRoutes(v1, services);
      await evaluationRoutes(v1, services);
    },
    { prefix: '/api/v1' },
  );
  await feastRoutes(http, services);

  return { http, services, routes };
}

/** Errors in MLflow's shape (`{error_code, message}`) for every route of `scope`, unknown paths included. */
function useMlflowErrors(scope: FastifyInstance): void {
  scope.setErrorHandler(mlflowErrorHandler);
  scope.setNotFoundHandler((request, reply) =>
    mlflowErrorHandler(new MloopError('ENDPOINT_NOT_FOUND', `no MLflow endpoint ${request.method} ${request.url}`), request, reply),
  );
}
