/** `mloop server`: runs the HTTP API on the embedded stores (or PostgreSQL / S3 when configured). */
import type { Command } from 'commander';
import { loadServerConfig } from '../../core/config.ts';

/** Registers `mloop server`. */
export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the mloop HTTP server (MLflow-compatible tracking and registry, mloop API)')
    .option('--home <dir>', 'data folder: metadata database and artifacts (env MLOOP_HOME, default .mloop)')
    .option('--port <port>', 'port to listen on (env MLOOP_PORT, default 7070)')
    .option('--host <host>', 'address to bind (env MLOOP_HOST, default 127.0.0.1)')
    .option('--database-url <url>', 'PostgreSQL URL instead of SQLite (env MLOOP_DATABASE_URL)')
    .option('--artifacts <uri>', 'artifact root: a folder or s3://bucket/prefix (env MLOOP_ARTIFACTS)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env MLOOP_LOG_LEVEL)')
    .option('--json', 'accepted for symmetry; the server always logs JSON lines')
    .action(async (options: { home?: string; port?: string; host?: string; databaseUrl?: string; artifacts?: string; logLevel?: string }) => {
      const config = loadServerConfig({
        home: options.home,
        port: options.port,
        host: options.host,
        databaseUrl: options.databaseUrl,
        artifacts: options.artifacts,
        logLevel: options.logLevel,
      });
      // Loaded on demand so that client commands start fast.
      const { closeOnSignals, createLogger, startServer } = await import('../../server/start.ts');
      const logger = createLogger(config.logLevel);
      const server = await startServer(config, { logger });
      closeOnSignals(server, logger);
    });
}
