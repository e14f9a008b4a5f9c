/**
 * The backend matrix of the tests. SQLite and local files always run; PostgreSQL runs when
 * MLOOP_TEST_POSTGRES_URL is set and S3 when MLOOP_TEST_S3_ENDPOINT is set (`.ci/services.sh` sets
 * both). Each `open()` gives a fresh, empty, migrated store and a cleanup that removes it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { newHexId } from '../../src/core/ids.ts';
import { LocalBlobStore } from '../../src/storage/local/blob-store.ts';
import type { BlobStore, MetadataStore, OnlineStore } from '../../src/storage/ports.ts';
import { PostgresMetadataStore } from '../../src/storage/postgres/metadata-store.ts';
import { RedisOnlineStore } from '../../src/storage/redis/online-store.ts';
import { S3BlobStore } from '../../src/storage/s3/blob-store.ts';
import { SqliteMetadataStore } from '../../src/storage/sqlite/metadata-store.ts';
import { SqliteOnlineStore } from '../../src/storage/sqlite/online-store.ts';

/** A store of the matrix, opened fresh. */
export interface Opened<T> {
  readonly store: T;
  /** Closes the store and deletes everything it held. */
  cleanup(): Promise<void>;
}

/** One backend of the matrix; `skip` holds the reason when it cannot run here. */
export interface Backend<T> {
  readonly name: string;
  readonly skip?: string;
  open(): Promise<Opened<T>>;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix = 'mloop-test-'): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Opens a fresh PostgreSQL database under the server at MLOOP_TEST_POSTGRES_URL; returns its URL. */
export async function createPostgresDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `mloop_t_${newHexId().slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** The metadata backends: SQLite always, PostgreSQL when configured. Stores come migrated. */
export function metadataBackends(): Backend<MetadataStore>[] {
  const pgUrl = process.env.MLOOP_TEST_POSTGRES_URL;
  return [
    {
      name: 'sqlite',
      async open() {
        const dir = await tempDir();
        const store = new SqliteMetadataStore({ path: join(dir.path, 'mloop.db') });
        await store.migrate();
        return { store, cleanup: async () => (await store.close(), await dir.cleanup()) };
      },
    },
    {
      name: 'postgres',
      skip: pgUrl ? undefined : 'MLOOP_TEST_POSTGRES_URL is not set',
      async open() {
        const database = await createPostgresDatabase(pgUrl!);
        const store = new PostgresMetadataStore({ url: database.url });
        await store.migrate();
        return { store, cleanup: async () => (await store.close(), await database.drop()) };
      },
    },
  ];
}

/** S3 settings of the test endpoint (s3rver accepts any credentials). */
export function s3TestConfig(bucket: string, prefix = '') {
  return {
    bucket,
    prefix,
    region: 'us-east-1',
    endpoint: process.env.MLOOP_TEST_S3_ENDPOINT!,
    forcePathStyle: true,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  };
}

/** Creates a fresh bucket on the test S3 endpoint. */
export async function createTestBucket(): Promise<string> {
  const bucket = `mloop-t-${newHexId().slice(0, 16)}`;
  const config = s3TestConfig(bucket);
  const client = new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return bucket;
}

/** The blob backends: a local directory always, S3 when configured. */
export function blobBackends(): Backend<BlobStore>[] {
  const s3 = process.env.MLOOP_TEST_S3_ENDPOINT;
  return [
    {
      name: 'local',
      async open() {
        const dir = await tempDir();
        const store = await new LocalBlobStore(join(dir.path, 'artifacts')).init();
        return { store, cleanup: async () => (await store.close(), await dir.cleanup()) };
      },
    },
    {
      name: 's3',
      skip: s3 ? undefined : 'MLOOP_TEST_S3_ENDPOINT is not set',
      async open() {
        const bucket = await createTestBucket();
        const store = new S3BlobStore(s3TestConfig(bucket, 'prefix/inside'));
        return {
          store,
          cleanup: async () => {
            await store.deletePrefix('');
            await store.close();
          },
        };
      },
    },
  ];
}

/**
 * The online-store backends: SQLite always, Redis when MLOOP_TEST_REDIS_URL is set. Each Redis store
 * gets its own key prefix, and its cleanup deletes what it wrote.
 */
export function onlineBackends(): Backend<OnlineStore>[] {
  const redisUrl = process.env.MLOOP_TEST_REDIS_URL;
  return [
    {
      name: 'sqlite',
      async open() {
        const dir = await tempDir();
        const store = new SqliteOnlineStore({ path: join(dir.path, 'online.db') });
        return { store, cleanup: async () => (await store.close(), await dir.cleanup()) };
      },
    },
    {
      name: 'redis',
      skip: redisUrl ? undefined : 'MLOOP_TEST_REDIS_URL is not set',
      async open() {
        const prefix = `mloop-t-${newHexId().slice(0, 12)}:`;
        const store = new RedisOnlineStore({ url: redisUrl!, keyPrefix: prefix });
        return {
          store,
          async cleanup() {
            const { Redis } = await import('ioredis');
            const admin = new Redis(redisUrl!);
            try {
              let cursor = '0';
              do {
                const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
                cursor = next;
                if (keys.length > 0) await admin.unlink(...keys);
              } while (cursor !== '0');
            } finally {
              admin.disconnect();
              await store.close();
            }
          },
        };
      },
    },
  ];
}
