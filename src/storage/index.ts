/** Opens the stores a configuration names. */
import type { ArtifactsConfig, MetadataConfig, OnlineConfig } from '../core/config.ts';
import { LocalBlobStore } from './local/blob-store.ts';
import type { BlobStore, MetadataStore, OnlineStore } from './ports.ts';
import { PostgresMetadataStore } from './postgres/metadata-store.ts';
import { RedisOnlineStore } from './redis/online-store.ts';
import { S3BlobStore } from './s3/blob-store.ts';
import { SqliteMetadataStore } from './sqlite/metadata-store.ts';
import { SqliteOnlineStore } from './sqlite/online-store.ts';

/** Opens (but does not migrate) the metadata store. */
export function openMetadataStore(config: MetadataConfig): MetadataStore {
  return config.kind === 'postgres'
    ? new PostgresMetadataStore({ url: config.url })
    : new SqliteMetadataStore({ path: config.path, synchronous: config.synchronous });
}

/** Opens the blob store, creating a local root if needed. */
export async function openBlobStore(config: ArtifactsConfig): Promise<BlobStore> {
  if (config.kind === 's3') return new S3BlobStore(config);
  return new LocalBlobStore(config.root).init();
}

/** Opens the online feature store: SQLite in the home by default, Redis when configured. */
export function openOnlineStore(config: OnlineConfig): OnlineStore {
  return config.kind === 'redis' ? new RedisOnlineStore({ url: config.url }) : new SqliteOnlineStore({ path: config.path });
}
