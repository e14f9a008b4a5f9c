/**
 * Local copies of canonical Parquet files, named by sha256, for DuckDB to read: DuckDB reads local
 * files only, while versions live in the blob store (a local folder or S3). Files are filled from the
 * blob store on demand, checked against their sha256, and written to a temporary name then renamed.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MloopError } from '../core/errors.ts';
import { HashingStream } from '../core/hashing.ts';
import { newHexId } from '../core/ids.ts';
import { getContent } from '../storage/content.ts';
import type { BlobStore } from '../storage/ports.ts';

/** A content-addressed folder of Parquet files backed by the blob store. */
export class ParquetCache {
  readonly #inflight = new Map<string, Promise<string>>();

  constructor(
    readonly dir: string,
    readonly tmpDir: string,
    readonly blobs: BlobStore,
  ) {}

  /** Where the file of `sha256` is (or would be). */
  path(sha256: string): string {
    return join(this.dir, `${sha256}.parquet`);
  }

  /** The local path of `sha256`, fetching it from the blob store first when it is not here. */
  async ensure(sha256: string): Promise<string> {
    const path = this.path(sha256);
    if (await exists(path)) return path;
    let pending = this.#inflight.get(sha256);
    if (!pending) {
      pending = this.#fetch(sha256).finally(() => this.#inflight.delete(sha256));
      this.#inflight.set(sha256, pending);
    }
    return pending;
  }

  async #fetch(sha256: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `${newHexId()}.download`);
    try {
      const hashing = new HashingStream();
      await pipeline(await getContent(this.blobs, sha256), hashing, createWriteStream(tmp, { flags: 'wx' }));
      if (hashing.digest() !== sha256) {
        throw new MloopError('INTERNAL_ERROR', `stored dataset file ${sha256} is corrupt: its content hashes to ${hashing.digest()}`);
      }
      await rename(tmp, this.path(sha256));
      return this.path(sha256);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Moves a freshly written file of `sha256` into the cache (replacing nothing already there). */
  async adopt(sha256: string, file: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const path = this.path(sha256);
    if (await exists(path)) await rm(file, { force: true });
    else await rename(file, path);
    return path;
  }

  /** Removes the local copy of `sha256`. */
  async evict(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
