/** Content hashing: everything mloop makes is named by the sha256 of its content. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** The sha256 of a buffer or string, as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** True for a lowercase 64-character hex sha256. */
export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/**
 * A pass-through stream that hashes and counts what flows through it.
 * Read `digest()` and `bytes` after the stream has ended.
 */
export class HashingStream extends Transform {
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;
  #digest: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    callback(null, chunk);
  }

  /** Number of bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The sha256 of everything seen; only valid once the stream has finished. */
  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}
