/** Starting and stopping the server process: open stores, migrate, listen, drain on SIGTERM. */
import { mkdir } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.ts';
import type { ServerConfig } from '../core/config.ts';
import { openBlobStore, openMetadataStore } from '../storage/index.ts';
import type { BlobStore, MetadataStore } from '../storage/ports.ts';
import { buildApp, type App } from './app.ts';

/** A running server. */
export interface RunningServer {
  readonly app: App;
  readonly url: string;
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  /** Stops accepting connections, lets in-flight requests finish, closes the stores. */
  close(): Promise<void>;
}

/** Options of {@link startServer}. */
export interface StartOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** Creates the logger of the server: JSON lines, secrets redacted. */
export function createLogger(level: ServerConfig['logLevel']): Logger {
  return pino({
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.secretAccessKey', '*.token'],
      censor: '[redacted]',
    },
  });
}

/** Opens the stores, applies migrations and starts listening. */
export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  await mkdir(config.home, { recursive: true });
  const metadata = openMetadataStore(config.metadata);
  let blobs: BlobStore | undefined;
  try {
    const report = await metadata.migrate();
    if (report.applied.length > 0) logger.info({ applied: report.applied }, 'migrations applied');
    blobs = await openBlobStore(config.artifacts);
    const app = await buildApp({ config, metadata, blobs, clock: options.clock ?? systemClock, logger });
    const address = await app.http.listen({ host: config.host, port: config.port });
    logger.info({ url: address, home: config.home, metadata: config.metadata.kind, artifacts: blobs.location }, 'mloop server listening');
    const openBlobs = blobs;
    return {
      app,
      url: address,
      metadata,
      blobs: openBlobs,
      async close() {
        await app.http.close();
        await openBlobs.close();
        await metadata.close();
      },
    };
  } catch (error) {
    await blobs?.close().catch(() => undefined);
    await metadata.close().catch(() => undefined);
    throw error;
  }
}

/** Closes `server` on SIGTERM or SIGINT, then exits 0 (1 if closing failed). */
export function closeOnSignals(server: RunningServer, logger: Logger): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'draining in-flight requests');
    server.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
