/**
 * Server configuration: read once from command-line options and the environment, validated with zod,
 * then frozen. Components receive only their slice.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { MloopError } from './errors.ts';

/** Where artifacts and dataset files live. */
export type ArtifactsConfig =
  | { readonly kind: 'local'; readonly root: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly prefix: string;
      readonly endpoint?: string;
      readonly region: string;
      readonly forcePathStyle: boolean;
      readonly accessKeyId?: string;
      readonly secretAccessKey?: string;
    };

/** Where metadata lives. */
export type MetadataConfig =
  | { readonly kind: 'sqlite'; readonly path: string; readonly synchronous: 'FULL' | 'NORMAL' }
  | { readonly kind: 'postgres'; readonly url: string };

/** Where online feature values live: a SQLite file in the home (default) or Redis. */
export type OnlineConfig = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'redis'; readonly url: string };

/** The validated, frozen configuration of `mloop server`. */
export interface ServerConfig {
  readonly home: string;
  readonly host: string;
  readonly port: number;
  readonly metadata: MetadataConfig;
  readonly artifacts: ArtifactsConfig;
  readonly online: OnlineConfig;
  /** Largest JSON request body accepted, in bytes (larger gets 413). */
  readonly bodyLimitBytes: number;
  /** Largest single artifact upload, in bytes (larger gets 413). */
  readonly maxArtifactBytes: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** Options as given on the command line (all optional; the environment fills the rest). */
export interface ServerOptions {
  home?: string;
  port?: string | number;
  host?: string;
  databaseUrl?: string;
  artifacts?: string;
  redisUrl?: string;
  logLevel?: string;
}

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const sizeString = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(b|kb|kib|mb|mib|gb|gib)?$/i, 'expected a size such as 1048576, 16MiB or 2GiB')
  .transform(parseSize);

const rawSchema = z.object({
  home: z.string().min(1, 'must not be empty').default('.mloop'),
  host: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  port: z.coerce
    .number({ error: 'expected a port number' })
    .int('expected an integer port')
    .min(0, 'must be 0..65535')
    .max(65535, 'must be 0..65535')
    .default(7070),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  sqliteSynchronous: z.enum(['FULL', 'NORMAL'], { error: 'expected FULL or NORMAL' }).default('FULL'),
  artifacts: z
    .string()
    .regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|file:\/\/\/.+|[^:]+)$/, 'expected s3://bucket[/prefix], file:///dir or a directory')
    .optional(),
  redisUrl: z.string().regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL').optional(),
  s3Endpoint: z.url({ error: 'expected a URL such as http://127.0.0.1:9000' }).optional(),
  s3Region: z.string().min(1).default('us-east-1'),
  s3ForcePathStyle: booleanString.optional(),
  s3AccessKeyId: z.string().optional(),
  s3SecretAccessKey: z.string().optional(),
  bodyLimit: sizeString.default(16 * 1024 * 1024),
  maxArtifactBytes: sizeString.default(64 * 1024 ** 3),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Environment variable that feeds each raw setting. */
const ENV_NAMES: Record<keyof z.input<typeof rawSchema>, string[]> = {
  home: ['MLOOP_HOME'],
  host: ['MLOOP_HOST'],
  port: ['MLOOP_PORT'],
  databaseUrl: ['MLOOP_DATABASE_URL'],
  sqliteSynchronous: ['MLOOP_SQLITE_SYNCHRONOUS'],
  artifacts: ['MLOOP_ARTIFACTS'],
  redisUrl: ['MLOOP_REDIS_URL'],
  s3Endpoint: ['MLOOP_S3_ENDPOINT'],
  s3Region: ['MLOOP_S3_REGION', 'AWS_REGION'],
  s3ForcePathStyle: ['MLOOP_S3_FORCE_PATH_STYLE'],
  s3AccessKeyId: ['MLOOP_S3_ACCESS_KEY_ID', 'AWS_ACCESS_KEY_ID'],
  s3SecretAccessKey: ['MLOOP_S3_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY'],
  bodyLimit: ['MLOOP_BODY_LIMIT'],
  maxArtifactBytes: ['MLOOP_MAX_ARTIFACT_BYTES'],
  logLevel: ['MLOOP_LOG_LEVEL'],
};

/** Parses `16MiB`, `2GB`, `1048576` into bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!match) throw new RangeError(`not a size: ${text}`);
  const units: Record<string, number> = { '': 1, b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  const unit = units[match[2].toLowerCase()];
  if (unit === undefined) throw new RangeError(`unknown size unit in ${text}`);
  return Math.floor(Number(match[1]) * unit);
}

/**
 * Builds the server configuration from command-line options (which win) and the environment.
 * Throws a `MloopError` naming the bad setting and its source when a value is invalid.
 */
export function loadServerConfig(options: ServerOptions = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const [key, names] of Object.entries(ENV_NAMES)) {
    for (const name of names) {
      const value = env[name];
      if (value !== undefined && value !== '') {
        raw[key] = value;
        source[key] = name;
        break;
      }
    }
  }
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) {
      raw[key] = value;
      source[key] = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    }
  }
  const parsed = rawSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const name = source[key] ?? (ENV_NAMES[key as keyof typeof ENV_NAMES]?.[0] ?? key);
      return { field: name, reason: issue.message };
    });
    throw new MloopError(
      'INVALID_PARAMETER_VALUE',
      `invalid configuration: ${fields.map((f) => `${f.field}: ${f.reason}`).join('; ')}`,
      { fields },
    );
  }
  const c = parsed.data;
  const home = resolve(c.home);
  const metadata: MetadataConfig = c.databaseUrl
    ? { kind: 'postgres', url: c.databaseUrl }
    : { kind: 'sqlite', path: resolve(home, 'mloop.db'), synchronous: c.sqliteSynchronous };
  let artifacts: ArtifactsConfig;
  if (c.artifacts?.startsWith('s3://')) {
    const rest = c.artifacts.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    artifacts = {
      kind: 's3',
      bucket,
      prefix,
      endpoint: c.s3Endpoint,
      region: c.s3Region,
      forcePathStyle: c.s3ForcePathStyle ?? c.s3Endpoint !== undefined,
      accessKeyId: c.s3AccessKeyId,
      secretAccessKey: c.s3SecretAccessKey,
    };
  } else {
    const dir = c.artifacts?.startsWith('file://') ? fileURLToPath(c.artifacts) : c.artifacts;
    artifacts = { kind: 'local', root: dir ? resolve(dir) : resolve(home, 'artifacts') };
  }
  return Object.freeze({
    home,
    host: c.host,
    port: c.port,
    metadata: Object.freeze(metadata),
    artifacts: Object.freeze(artifacts),
    online: Object.freeze(c.redisUrl ? { kind: 'redis' as const, url: c.redisUrl } : { kind: 'sqlite' as const, path: resolve(home, 'online.db') }),
    bodyLimitBytes: c.bodyLimit,
    maxArtifactBytes: c.maxArtifactBytes,
    logLevel: c.logLevel,
  });
}
