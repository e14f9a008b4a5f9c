/** The scale-out blob store: S3-compatible object storage (`@aws-sdk/client-s3`). */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { notFound } from '../../core/errors.ts';
import { HashingStream } from '../../core/hashing.ts';
import { safeRelativePath } from '../../core/paths.ts';
import type { BlobEntry, BlobInfo, BlobStore, PutOptions, PutResult } from '../ports.ts';
import { limitBytes } from '../stream-limit.ts';

/** Settings of {@link S3BlobStore}. */
export interface S3BlobStoreConfig {
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slash (`''` for the bucket root). */
  readonly prefix: string;
  readonly region: string;
  /** Endpoint of an S3-compatible service (`http://127.0.0.1:9000`); AWS when absent. */
  readonly endpoint?: string;
  readonly forcePathStyle: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /**
   * Objects larger than this many bytes are moved by a multipart copy (UploadPartCopy): a single
   * CopyObject stops at 5 GiB, and uploads may be larger. Default {@link MULTIPART_COPY_THRESHOLD}.
   */
  readonly multipartCopyThreshold?: number;
  /** Part size of a multipart copy; raised when needed to stay within 10,000 parts. Default {@link COPY_PART_BYTES}. */
  readonly copyPartBytes?: number;
}

/** Above this size {@link S3BlobStore.move} copies in parts (4 GiB, under CopyObject's 5 GiB limit). */
export const MULTIPART_COPY_THRESHOLD = 4 * 1024 ** 3;
/** Default part size of a multipart copy (S3 allows 5 MiB to 5 GiB per part). */
export const COPY_PART_BYTES = 512 * 1024 ** 2;
/** Most parts of one multipart upload S3 accepts. */
const MAX_PARTS = 10_000;
/** Parts copied at the same time. */
const COPY_CONCURRENCY = 4;

/**
 * The inclusive byte ranges of a multipart copy of `size` bytes in parts of `partBytes` (larger when
 * `partBytes` would need more than 10,000 parts). Every part but the last has the same size.
 */
export function copyPartRanges(size: number, partBytes: number): { first: number; last: number }[] {
  const part = Math.max(partBytes, Math.ceil(size / MAX_PARTS));
  const ranges: { first: number; last: number }[] = [];
  for (let first = 0; first < size; first += part) ranges.push({ first, last: Math.min(size, first + part) - 1 });
  return ranges;
}

/** {@link BlobStore} on an S3 bucket. */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #multipartCopyThreshold: number;
  readonly #copyPartBytes: number;

  constructor(config: S3BlobStoreConfig) {
    this.#bucket = config.bucket;
    this.#multipartCopyThreshold = config.multipartCopyThreshold ?? MULTIPART_COPY_THRESHOLD;
    this.#copyPartBytes = config.copyPartBytes ?? COPY_PART_BYTES;
    this.#prefix = config.prefix.replace(/^\/+|\/+$/g, '');
    this.location = `s3://${config.bucket}${this.#prefix ? `/${this.#prefix}` : ''}`;
    this.#client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials:
        config.accessKeyId && config.secretAccessKey
          ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
          : undefined,
    });
  }

  /** Object key of a blob key. */
  #objectKey(key: string, allowRoot = false): string {
    const clean = safeRelativePath(key, 'path', { allowEmpty: allowRoot });
    return this.#prefix ? (clean ? `${this.#prefix}/${clean}` : this.#prefix) : clean;
  }

  /** Blob key of an object key. */
  #blobKey(objectKey: string): string {
    return this.#prefix ? objectKey.slice(this.#prefix.length + 1) : objectKey;
  }

  /** Object-key prefix that lists the children of directory `key`. */
  #dirPrefix(key: string): string {
    const base = this.#objectKey(key, true);
    return base === '' ? '' : `${base}/`;
  }

  async put(key: string, body: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const objectKey = this.#objectKey(key);
    const hashing = new HashingStream();
    const source = body instanceof Readable ? body : Readable.from([body]);
    const sink = new PassThrough();
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: objectKey, Body: sink },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    const feeding = pipeline(source, limitBytes(options.maxBytes), hashing, sink);
    const uploading = upload.done();
    try {
      await feeding;
    } catch (error) {
      await upload.abort().catch(() => undefined);
      await uploading.catch(() => undefined);
      throw error;
    }
    await uploading;
    return { key: this.#blobKey(objectKey), size: hashing.bytes, sha256: hashing.digest() };
  }

  async get(key: string): Promise<Readable> {
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }));
      return out.Body as Readable;
    } catch (error) {
      if (isMissing(error)) throw notFound(`no artifact at ${JSON.stringify(key)}`);
      throw error;
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const objectKey = this.#objectKey(key);
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
      return { key: this.#blobKey(objectKey), size: out.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    const dirPrefix = this.#dirPrefix(prefix);
    const out: BlobEntry[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: dirPrefix, Delimiter: '/', ContinuationToken: token }),
      );
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix) out.push({ key: this.#blobKey(common.Prefix.slice(0, -1)), isDir: true });
      }
      for (const object of page.Contents ?? []) {
        if (object.Key && object.Key !== dirPrefix) out.push({ key: this.#blobKey(object.Key), isDir: false, size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async *listAll(prefix: string): AsyncIterable<BlobInfo> {
    const dirPrefix = this.#dirPrefix(prefix);
    // S3 lists in UTF-8 byte order, some compatible servers in no set order; collecting and sorting
    // gives every backend the order of `list` (UTF-16 code units). Keys are small next to blobs.
    const blobs: BlobInfo[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: dirPrefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) blobs.push({ key: this.#blobKey(object.Key), size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    yield* blobs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<boolean> {
    if (!(await this.stat(key))) return false;
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }));
    return true;
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys: string[] = [];
    for await (const blob of this.listAll(prefix)) keys.push(this.#objectKey(blob.key));
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      await this.#client.send(
        new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }),
      );
    }
    return keys.length;
  }

  /**
   * Copies, then deletes the source: one CopyObject up to the multipart threshold, a multipart copy
   * above it. The source is deleted only once the copy is complete; a failed multipart copy is aborted.
   */
  async move(from: string, to: string): Promise<void> {
    const source = this.#objectKey(from);
    const target = this.#objectKey(to);
    const info = await this.stat(from);
    if (!info) throw notFound(`no artifact at ${JSON.stringify(from)}`);
    const copySource = `${this.#bucket}/${source.split('/').map(encodeURIComponent).join('/')}`;
    if (info.size > this.#multipartCopyThreshold) await this.#multipartCopy(copySource, target, info.size);
    else await this.#client.send(new CopyObjectCommand({ Bucket: this.#bucket, Key: target, CopySource: copySource }));
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: source }));
  }

  /** Copies `size` bytes of `copySource` to `target` with UploadPartCopy, a few parts at a time. */
  async #multipartCopy(copySource: string, target: string, size: number): Promise<void> {
    const { UploadId } = await this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: target }));
    try {
      const ranges = copyPartRanges(size, this.#copyPartBytes);
      const parts: CompletedPart[] = new Array(ranges.length);
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (!failed && next < ranges.length) {
          const index = next++;
          const { first, last } = ranges[index];
          try {
            const out = await this.#client.send(
              new UploadPartCopyCommand({
                Bucket: this.#bucket,
                Key: target,
                UploadId,
                PartNumber: index + 1,
                CopySource: copySource,
                CopySourceRange: `bytes=${first}-${last}`,
              }),
            );
            parts[index] = { PartNumber: index + 1, ETag: out.CopyPartResult?.ETag };
          } catch (error) {
            failed = true;
            throw error;
          }
        }
      };
      // Every worker settles before the upload is completed or aborted: no part lands after an abort.
      const settled = await Promise.allSettled(Array.from({ length: Math.min(COPY_CONCURRENCY, ranges.length) }, worker));
      const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      await this.#client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.#bucket, Key: target, UploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (error) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: target, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  async ping(): Promise<void> {
    await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
