/**
 * Content addressing over any {@link BlobStore}: a blob is written once under a temporary key, named
 * by the sha256 of its bytes, then moved to `cas/<aa>/<sha256>`. Writing the same bytes twice stores
 * them once.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { isSha256Hex } from '../core/hashing.ts';
import { invalidParam, MloopError } from '../core/errors.ts';
import { newUuid } from '../core/ids.ts';
import type { BlobStore, PutOptions } from './ports.ts';

const CAS_PREFIX = 'cas';
const STAGING_PREFIX = 'staging';

/** Top-level blob key prefixes owned by content addressing; other writers must stay out of them. */
export const RESERVED_BLOB_PREFIXES: readonly string[] = [CAS_PREFIX, STAGING_PREFIX];

/** The blob key of content with the given sha256. */
export function contentKey(sha256: string): string {
  if (!isSha256Hex(sha256)) throw invalidParam('sha256', `expected 64 lowercase hex characters, got ${JSON.stringify(sha256)}`);
  return `${CAS_PREFIX}/${sha256.slice(0, 2)}/${sha256}`;
}

/** What {@link putContent} reports. */
export interface ContentRef {
  readonly sha256: string;
  readonly size: number;
  readonly key: string;
  /** False when identical content was already stored and nothing new was kept. */
  readonly created: boolean;
}

/** Stores `body` by content; returns its sha256 and key. */
export async function putContent(blobs: BlobStore, body: Readable | Uint8Array, options?: PutOptions): Promise<ContentRef> {
  const staging = `${STAGING_PREFIX}/${newUuid()}`;
  const written = await blobs.put(staging, body, options);
  const key = contentKey(written.sha256);
  if (await blobs.stat(key)) {
    await blobs.delete(staging);
    return { sha256: written.sha256, size: written.size, key, created: false };
  }
  await blobs.move(staging, key);
  return { sha256: written.sha256, size: written.size, key, created: true };
}

/**
 * Stores the local file at `path`, whose sha256 the caller has just computed, by content: through
 * {@link BlobStore.putFile} where the store has it (no bytes copied; the file must not change
 * afterwards), else through {@link putContent}, which hashes the bytes again and must agree.
 */
export async function putContentFile(blobs: BlobStore, path: string, sha256: string): Promise<ContentRef> {
  const key = contentKey(sha256);
  const existing = await blobs.stat(key);
  if (existing) return { sha256, size: existing.size, key, created: false };
  if (blobs.putFile) {
    const { size } = await blobs.putFile(key, path);
    return { sha256, size, key, created: true };
  }
  const stored = await putContent(blobs, createReadStream(path));
  if (stored.sha256 !== sha256) {
    if (stored.created) await blobs.delete(stored.key);
    throw new MloopError('INTERNAL_ERROR', `file ${path} changed while stored (sha256 ${sha256} → ${stored.sha256})`);
  }
  return stored;
}

/** Streams the content with the given sha256. */
export function getContent(blobs: BlobStore, sha256: string): Promise<Readable> {
  return blobs.get(contentKey(sha256));
}
