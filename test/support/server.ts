/**
 * An mloop server for tests, in this process, on a random port, over fresh stores. Defaults to SQLite
 * and a local artifact folder; pass backends from `backends.ts` to run the same test on others.
 */
import pino from 'pino';
import type { Clock } from '../../src/core/clock.ts';
import { systemClock } from '../../src/core/clock.ts';
import { buildApp, type App } from '../../src/server/app.ts';
import type { BlobStore, MetadataStore, OnlineStore } from '../../src/storage/ports.ts';
import { blobBackends, metadataBackends, type Backend } from './backends.ts';

/** A running test server. */
export interface TestServer {
  readonly url: string;
  readonly app: App;
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  /** `fetch` relative to the server URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** POST/GET JSON helper: returns status and parsed body. */
  json(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  readonly metadata?: Backend<MetadataStore>;
  readonly blobs?: Backend<BlobStore>;
  /** The online feature store (an in-memory SQLite one when absent). */
  readonly online?: Backend<OnlineStore>;
  readonly clock?: Clock;
  readonly bodyLimitBytes?: number;
  readonly maxArtifactBytes?: number;
}

/** Starts a server over fresh stores. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const metadata = await (options.metadata ?? metadataBackends()[0]).open();
  const blobs = await (options.blobs ?? blobBackends()[0]).open();
  const online = await options.online?.open();
  const app = await buildApp({
    config: { bodyLimitBytes: options.bodyLimitBytes ?? 16 * 1024 * 1024, maxArtifactBytes: options.maxArtifactBytes ?? 1024 ** 3 },
    metadata: metadata.store,
    blobs: blobs.store,
    online: online?.store,
    clock: options.clock ?? systemClock,
    logger: pino({ level: process.env.MLOOP_TEST_LOG_LEVEL ?? 'silent' }),
  });
  const url = await app.http.listen({ host: '127.0.0.1', port: 0 });
  const doFetch = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);
  return {
    url,
    app,
    metadata: metadata.store,
    blobs: blobs.store,
    fetch: doFetch,
    async json(method, path, body) {
      const response = await doFetch(path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON; keep the text
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async close() {
      await app.http.close();
      await online?.cleanup();
      await blobs.cleanup();
      await metadata.cleanup();
    },
  };
}
