/** The embedded blob store: a local directory. Writes go to a temporary file, are synced, then renamed. */
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MloopError, notFound } from '../../core/errors.ts';
import { HashingStream } from '../../core/hashing.ts';
import { newUuid } from '../../core/ids.ts';
import { safeRelativePath } from '../../core/paths.ts';
import type { BlobEntry, BlobInfo, BlobStore, PutOptions, PutResult } from '../ports.ts';
import { limitBytes } from '../stream-limit.ts';

const TMP_DIR = '.tmp';

/** {@link BlobStore} on a local directory. */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  readonly location: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.location = this.#root;
  }

  /** Creates the root and removes temporary files left by a crash. */
  async init(): Promise<this> {
    await mkdir(this.#root, { recursive: true });
    await rm(join(this.#root, TMP_DIR), { recursive: true, force: true });
    await mkdir(join(this.#root, TMP_DIR), { recursive: true });
    return this;
  }

  /**
   * Maps a key to a file path, refusing anything that would resolve outside the root — by its text or
   * through a symbolic link on the way.
   */
  async #path(key: string, allowRoot = false): Promise<string> {
    const clean = safeRelativePath(key, 'path', { allowEmpty: allowRoot });
    if (clean === TMP_DIR || clean.startsWith(`${TMP_DIR}/`)) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `path: ${JSON.stringify(key)} is reserved`);
    }
    const full = resolve(this.#root, clean);
    if (full !== this.#root && !full.startsWith(this.#root + sep)) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `path: ${JSON.stringify(key)} is outside the artifact root`);
    }
    await this.#assertNoLinkEscape(full);
    return full;
  }

  /** Walks up from `full` to the first existing ancestor and checks its real path is inside the root. */
  async #assertNoLinkEscape(full: string): Promise<void> {
    let probe = full;
    for (;;) {
      try {
        const real = await realpath(probe);
        const rootReal = await realpath(this.#root);
        if (real !== rootReal && !real.startsWith(rootReal + sep)) {
          throw new MloopError('INVALID_PARAMETER_VALUE', 'path: resolves outside the artifact root');
        }
        return;
      } catch (error) {
        // A missing ancestor, or a file where a directory would be: keep walking up to what exists.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
        if (probe === this.#root) return;
        probe = dirname(probe);
      }
    }
  }

  async put(key: string, body: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const target = await this.#path(key);
    const tmp = join(this.#root, TMP_DIR, newUuid());
    const hashing = new HashingStream();
    const source = body instanceof Readable ? body : Readable.from([body]);
    try {
      const out = createWriteStream(tmp, { flags: 'wx' });
      await pipeline(source, limitBytes(options.maxBytes), hashing, out);
      await syncFile(tmp);
      await mkdir(dirname(target), { recursive: true });
      const existing = await lstat(target).catch(() => undefined);
      if (existing?.isDirectory()) {
        throw new MloopError('INVALID_PARAMETER_VALUE', `path: ${JSON.stringify(key)} is a directory`);
      }
      await rename(tmp, target);
      await syncDir(dirname(target));
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR' || (error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new MloopError('INVALID_PARAMETER_VALUE', `path: ${JSON.stringify(key)} conflicts with an existing file`, {
          cause: error,
        });
      }
      throw error;
    }
    return { key: safeRelativePath(key, 'path'), size: hashing.bytes, sha256: hashing.digest() };
  }

  /**
   * Hard-links the file into the store (a copy when `path` is on another file system or links are
   * not allowed there), syncs it, then renames it into place: the blob and the caller's file share
   * their bytes, and since nothing here writes a file in place, neither changes when the other is
   * replaced or deleted.
   */
  async putFile(key: string, path: string): Promise<BlobInfo> {
    const target = await this.#path(key);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw notFound(`no file at ${JSON.stringify(path)}`);
    const tmp = join(this.#root, TMP_DIR, newUuid());
    try {
      await link(path, tmp).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EXDEV' && error.code !== 'EPERM' && error.code !== 'ENOTSUP' && error.code !== 'EMLINK') throw error;
        await copyFile(path, tmp);
      });
      await syncFile(tmp);
      await mkdir(dirname(target), { recursive: true });
      const existing = await lstat(target).catch(() => undefined);
      if (existing?.isDirectory()) throw new MloopError('INVALID_PARAMETER_VALUE', `path: ${JSON.stringify(key)} is a directory`);
      await rename(tmp, target);
      // rename() does nothing when both names already link to the same file: drop the spare name.
      await unlink(tmp).catch(() => undefined);
      await syncDir(dirname(target));
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw new MloopError('INVALID_PARAMETER_VALUE', `path: ${JSON.stringify(key)} conflicts with an existing file`, { cause: error });
      }
      throw error;
    }
    return { key: safeRelativePath(key, 'path'), size: info.size };
  }

  async get(key: string): Promise<Readable> {
    const path = await this.#path(key);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw notFound(`no artifact at ${JSON.stringify(key)}`);
    const stream: ReadStream = createReadStream(path);
    return stream;
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const path = await this.#path(key);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return { key: safeRelativePath(key, 'path'), size: info.size };
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    const dir = await this.#path(prefix, true);
    const clean = safeRelativePath(prefix, 'path', { allowEmpty: true });
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
      throw error;
    });
    const out: BlobEntry[] = [];
    for (const entry of entries) {
      if (clean === '' && entry.name === TMP_DIR) continue;
      const key = clean === '' ? entry.name : `${clean}/${entry.name}`;
      if (entry.isDirectory()) out.push({ key, isDir: true });
      else if (entry.isFile()) out.push({ key, isDir: false, size: (await stat(join(dir, entry.name))).size });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async *listAll(prefix: string): AsyncIterable<BlobInfo> {
    // Every key under directory `d` starts with `d/`, so ordering a directory as `d/` among its
    // siblings keeps the depth-first walk in the order of full keys (`a/b.txt` before `a/b/c`).
    const entries = (await this.list(prefix)).map((entry) => ({ entry, order: entry.isDir ? `${entry.key}/` : entry.key }));
    entries.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    for (const { entry } of entries) {
      if (entry.isDir) yield* this.listAll(entry.key);
      else yield { key: entry.key, size: entry.size ?? 0 };
    }
  }

  async delete(key: string): Promise<boolean> {
    const path = await this.#path(key);
    const info = await lstat(path).catch(() => undefined);
    if (!info?.isFile()) return false;
    await unlink(path);
    await syncDir(dirname(path));
    return true;
  }

  async deletePrefix(prefix: string): Promise<number> {
    const dir = await this.#path(prefix, true);
    let count = 0;
    for await (const _ of this.listAll(prefix)) count++;
    if (safeRelativePath(prefix, 'path', { allowEmpty: true }) === '') {
      for (const entry of await readdir(dir)) if (entry !== TMP_DIR) await rm(join(dir, entry), { recursive: true, force: true });
    } else if ((await lstat(dir).catch(() => undefined))?.isDirectory()) {
      // Only a directory is a prefix: a blob at this key is not "under" it and stays.
      await rm(dir, { recursive: true, force: true });
    }
    return count;
  }

  async move(from: string, to: string): Promise<void> {
    const source = await this.#path(from);
    const target = await this.#path(to);
    const info = await stat(source).catch(() => undefined);
    if (!info?.isFile()) throw notFound(`no artifact at ${JSON.stringify(from)}`);
    await mkdir(dirname(target), { recursive: true });
    await rename(source, target);
    await syncDir(dirname(target));
  }

  async ping(): Promise<void> {
    const probe = join(this.#root, TMP_DIR, `ping-${newUuid()}`);
    const handle = await open(probe, 'wx');
    await handle.close();
    await unlink(probe);
  }

  async close(): Promise<void> {}

  /** The root directory (for tests that check nothing escaped it). */
  get root(): string {
    return this.#root;
  }

  /** Relative key of an absolute path inside the root. */
  keyOf(path: string): string {
    return relative(this.#root, path).split(sep).join('/');
  }
}

/** fsyncs a file's data. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory so that a rename in it is durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
