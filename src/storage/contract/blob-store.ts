/**
 * The contract of {@link BlobStore}: what every blob adapter (local directory, S3) must do the same
 * way — round trips, hashes, listings, atomic replacement, limits, key validation and streaming in
 * bounded memory. Each adapter's test file calls {@link describeBlobStoreContract} with its backend.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it as plainIt, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMloopError, type ErrorCode } from '../../core/errors.ts';
import { newHexId } from '../../core/ids.ts';
import type { BlobEntry, BlobInfo, BlobStore } from '../ports.ts';
import type { Backend, OpenedStore } from './backend.ts';

/**
 * Keys that try to leave the store's root or smuggle in a character that paths must not hold; every
 * method must refuse each of them with INVALID_PARAMETER_VALUE.
 */
export const TRAVERSAL_KEYS: readonly string[] = [
  '../x',
  'a/../../x',
  '..',
  'a/..',
  './x',
  'a//b',
  '%2e%2e/x',
  '%252e%252e/x',
  '..%2fx',
  '%2e%2e%2fx',
  '..%5cx',
  '/etc/passwd',
  '%2fetc%2fpasswd',
  '//x',
  'C:\\x',
  'C:/x',
  '\\\\server\\share\\x',
  'a\\b',
  'a\u0000b',
  'a/%00b',
  'a\nb',
  'a?b',
  'a#b',
  '%c0%ae%c0%ae/x',
];

/** The sha256 of `data`, by node:crypto (the oracle the adapters' own hashing is checked against). */
function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a stream to the end into one buffer. */
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Collects an async iterable. */
async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Bytes 0..255 repeated to `length`. */
function everyByte(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = i % 256;
  return out;
}

/** A stream of `chunks` that fails with `error` after yielding them. */
function failingStream(chunks: Buffer[], error: Error): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of chunks) yield chunk;
      throw error;
    })(),
  );
}

/** Asserts that `promise` rejects with an MloopError of `code`. */
async function rejectsWith(promise: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode, label = ''): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isMloopError(error), `${label}: expected an MloopError, got ${String(error)}`);
    assert.equal(error.code, code, `${label}: ${error.message}`);
    return true;
  });
}

/** Contract tests a backend is known not to pass here, by test name, with the reason (as Hono's `runTest`). */
export interface ContractSkip {
  readonly reason: string;
  readonly tests: readonly string[];
}

/** Options of {@link describeBlobStoreContract}. */
export interface BlobStoreContractOptions {
  /** Tests to skip for this backend; each group carries its reason. */
  readonly skip?: readonly ContractSkip[];
}

/**
 * A full garbage collection, so that RSS samples count what is held rather than garbage not yet
 * collected; a no-op if the runtime refuses to expose it.
 */
const collectGarbage: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') return gc as () => void;
  } catch {
    // Not exposed: samples then include garbage, which only makes the bound harder to meet.
  }
  return () => undefined;
})();

/** A key prefix no other test of the suite uses. */
function freshDir(): string {
  return `t-${newHexId().slice(0, 12)}`;
}

/** Registers the blob-store contract suite for `backend` (skipped, with its reason, when it cannot run here). */
export function describeBlobStoreContract(backend: Backend<BlobStore>, options: BlobStoreContractOptions = {}): void {
  const skipped = new Map<string, string>();
  for (const group of options.skip ?? []) for (const test of group.tests) skipped.set(test, group.reason);
  const it = (name: string, fn: (t: TestContext) => Promise<void>) => plainIt(name, { skip: skipped.get(name) }, fn);

  describe(`BlobStore contract: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: OpenedStore<BlobStore>;
    let store: BlobStore;

    before(async () => {
      opened = await backend.open();
      store = opened.store;
    });
    after(async () => {
      await opened?.cleanup();
    });

    /** Writes `content` (a string or bytes) under `key` and returns the bytes written. */
    async function putText(key: string, content: string | Buffer): Promise<Buffer> {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      await store.put(key, bytes);
      return bytes;
    }

    describe('put and get', () => {
      it('round-trips bytes, reporting size and sha256 as node:crypto computes them', async () => {
        const key = `${freshDir()}/model.onnx`;
        const bytes = Buffer.from('hello, blob store\n');
        const result = await store.put(key, bytes);
        assert.deepEqual(result, { key, size: bytes.length, sha256: sha256(bytes) });
        assert.deepEqual(await readAll(await store.get(key)), bytes);
        assert.deepEqual(await store.stat(key), { key, size: bytes.length });
      });

      it('round-trips a Uint8Array that is a view into a larger buffer', async () => {
        const key = `${freshDir()}/view.bin`;
        const backing = everyByte(1024);
        const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 50);
        const result = await store.put(key, view);
        assert.equal(result.size, 50);
        assert.equal(result.sha256, sha256(view));
        assert.deepEqual(await readAll(await store.get(key)), Buffer.from(view));
      });

      it('round-trips a stream of many chunks', async () => {
        const key = `${freshDir()}/stream.bin`;
        const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1000 + i, i));
        const all = Buffer.concat(chunks);
        const result = await store.put(key, Readable.from(chunks));
        assert.equal(result.size, all.length);
        assert.equal(result.sha256, sha256(all));
        assert.deepEqual(await readAll(await store.get(key)), all);
      });

      it('round-trips binary content holding every byte value', async () => {
        const key = `${freshDir()}/binary.bin`;
        const bytes = everyByte(256 * 64 + 7);
        const result = await store.put(key, bytes);
        assert.equal(result.sha256, sha256(bytes));
        const back = await readAll(await store.get(key));
        assert.equal(back.length, bytes.length);
        assert.ok(back.equals(bytes), 'bytes read back equal bytes written');
      });

      it('stores empty files, from bytes and from an empty stream', async () => {
        const dir = freshDir();
        const emptySha = sha256(new Uint8Array(0));
        for (const [name, body] of [
          ['bytes', new Uint8Array(0)],
          ['stream', Readable.from([])],
        ] as const) {
          const key = `${dir}/${name}`;
          assert.deepEqual(await store.put(key, body), { key, size: 0, sha256: emptySha });
          assert.deepEqual(await store.stat(key), { key, size: 0 });
          assert.equal((await readAll(await store.get(key))).length, 0);
        }
        assert.deepEqual(await store.list(dir), [
          { key: `${dir}/bytes`, isDir: false, size: 0 },
          { key: `${dir}/stream`, isDir: false, size: 0 },
        ]);
      });

      it('replaces an existing blob on overwrite', async () => {
        const key = `${freshDir()}/over.txt`;
        await putText(key, 'first version, longer than the second');
        await putText(key, 'second');
        assert.equal((await readAll(await store.get(key))).toString(), 'second');
        assert.deepEqual(await store.stat(key), { key, size: 6 });
      });

      it('shows readers the old blob, whole, until an overwrite completes', async () => {
        const key = `${freshDir()}/atomic.bin`;
        const old = Buffer.alloc(256 * 1024, 'a');
        await store.put(key, old);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let sent = 0;
        const slow = Readable.from(
          (async function* () {
            for (let i = 0; i < 8; i++) {
              if (i === 4) await gate;
              sent++;
              yield Buffer.alloc(64 * 1024, 'b');
            }
          })(),
        );
        const writing = store.put(key, slow);
        while (sent < 4) await new Promise((resolve) => setTimeout(resolve, 5));
        // Half of the new body has been handed over; readers still see the old one.
        assert.deepEqual(await store.stat(key), { key, size: old.length });
        assert.ok((await readAll(await store.get(key))).equals(old), 'mid-write read returns the old blob whole');
        release();
        const result = await writing;
        const fresh = Buffer.alloc(512 * 1024, 'b');
        assert.equal(result.sha256, sha256(fresh));
        assert.ok((await readAll(await store.get(key))).equals(fresh), 'after the write, the new blob whole');
      });

      it('leaves exactly one whole blob when puts to one key race', async () => {
        const key = `${freshDir()}/race.bin`;
        const bodies = Array.from({ length: 5 }, (_, i) => Buffer.alloc(100_000 + i * 1000, i + 1));
        await Promise.all(bodies.map((body) => store.put(key, Readable.from([body.subarray(0, 50_000), body.subarray(50_000)]))));
        const back = await readAll(await store.get(key));
        assert.ok(
          bodies.some((body) => body.equals(back)),
          'the stored blob is one of the bodies written, whole',
        );
      });

      it('get of a missing key rejects with RESOURCE_DOES_NOT_EXIST; stat resolves undefined', async () => {
        const dir = freshDir();
        await putText(`${dir}/sub/file.txt`, 'x');
        for (const key of [`${dir}/missing.txt`, `${dir}/sub`, `${dir}/sub/file.txt/deeper`, `${freshDir()}/nothing`]) {
          await rejectsWith(store.get(key), 'RESOURCE_DOES_NOT_EXIST', `get ${key}`);
          assert.equal(await store.stat(key), undefined, `stat ${key}`);
        }
      });

      it('accepts keys with unicode, spaces and URL-special characters', async () => {
        const dir = freshDir();
        const keys = [
          `${dir}/dir with space/naïve 文件 😀.txt`,
          `${dir}/c++ notes & more=1;2,3.txt`,
          `${dir}/quotes'"[brackets]{braces}(parens)!@$^*~.txt`,
          `${dir}/e\u0301 combining.txt`,
        ];
        for (const key of keys) {
          const bytes = Buffer.from(`content of ${key}`);
          assert.deepEqual(await store.put(key, bytes), { key, size: bytes.length, sha256: sha256(bytes) });
          assert.deepEqual(await readAll(await store.get(key)), bytes);
          assert.deepEqual(await store.stat(key), { key, size: bytes.length });
        }
        const listed = await collect(store.listAll(dir));
        assert.deepEqual(listed.map((b) => b.key).sort(), [...keys].sort());
        const moved = `${dir}/moved 😀/ü+ber.txt`;
        await store.move(keys[0], moved);
        assert.equal(await store.stat(keys[0]), undefined);
        assert.equal((await readAll(await store.get(moved))).toString(), `content of ${keys[0]}`);
        assert.equal(await store.delete(keys[1]), true);
        assert.equal(await store.stat(keys[1]), undefined);
      });

      it('decodes percent-encoded keys first: "a%20b" and "a b" name the same blob', async () => {
        const dir = freshDir();
        await putText(`${dir}/a%20b.txt`, 'encoded');
        assert.deepEqual(await store.stat(`${dir}/a b.txt`), { key: `${dir}/a b.txt`, size: 7 });
        assert.deepEqual(await store.list(dir), [{ key: `${dir}/a b.txt`, isDir: false, size: 7 }]);
      });
    });

    describe('failed writes', () => {
      it('a put whose body fails mid-way rejects and stores nothing', async () => {
        const dir = freshDir();
        const broken = new Error('source broke');
        await assert.rejects(store.put(`${dir}/broken.bin`, failingStream([Buffer.alloc(4096, 1), Buffer.alloc(4096, 2)], broken)));
        assert.equal(await store.stat(`${dir}/broken.bin`), undefined);
        assert.deepEqual(await store.list(dir), []);
        assert.deepEqual(await collect(store.listAll(dir)), []);
      });

      it('a put whose body fails after more than one upload part stores nothing', async () => {
        const dir = freshDir();
        const chunks = Array.from({ length: 9 * 16 }, (_, i) => Buffer.alloc(64 * 1024, i));
        await assert.rejects(store.put(`${dir}/big-broken.bin`, failingStream(chunks, new Error('source broke late'))));
        assert.equal(await store.stat(`${dir}/big-broken.bin`), undefined);
        assert.deepEqual(await collect(store.listAll(dir)), []);
      });

      it('a failed overwrite leaves the old blob in place', async () => {
        const key = `${freshDir()}/keep.txt`;
        await putText(key, 'precious');
        await assert.rejects(store.put(key, failingStream([Buffer.from('partial')], new Error('boom'))));
        assert.equal((await readAll(await store.get(key))).toString(), 'precious');
      });

      it('leaves no temporary file visible in listings after failed writes', async () => {
        const fresh = await backend.open();
        try {
          await fresh.store.put('kept.txt', Buffer.from('kept'));
          await assert.rejects(fresh.store.put('a/broken.bin', failingStream([Buffer.alloc(1000)], new Error('x'))));
          await assert.rejects(fresh.store.put('b.bin', Buffer.alloc(100), { maxBytes: 10 }));
          assert.deepEqual(await fresh.store.list(''), [{ key: 'kept.txt', isDir: false, size: 4 }]);
          assert.deepEqual(await collect(fresh.store.listAll('')), [{ key: 'kept.txt', size: 4 }]);
        } finally {
          await fresh.cleanup();
        }
      });

      it('maxBytes: a larger body is refused with PAYLOAD_TOO_LARGE and nothing is stored', async () => {
        const dir = freshDir();
        await rejectsWith(store.put(`${dir}/big.bin`, Buffer.alloc(1001), { maxBytes: 1000 }), 'PAYLOAD_TOO_LARGE', 'bytes');
        const chunks = Array.from({ length: 10 }, () => Buffer.alloc(200));
        await rejectsWith(store.put(`${dir}/big-stream.bin`, Readable.from(chunks), { maxBytes: 1999 }), 'PAYLOAD_TOO_LARGE', 'stream');
        assert.deepEqual(await collect(store.listAll(dir)), []);
        const exact = await store.put(`${dir}/exact.bin`, Readable.from(chunks), { maxBytes: 2000 });
        assert.equal(exact.size, 2000);
      });

      it('maxBytes: a refused overwrite leaves the old blob in place', async () => {
        const key = `${freshDir()}/limited.txt`;
        await putText(key, 'small');
        await rejectsWith(store.put(key, Buffer.alloc(100), { maxBytes: 50 }), 'PAYLOAD_TOO_LARGE');
        assert.equal((await readAll(await store.get(key))).toString(), 'small');
      });
    });

    describe('listing', () => {
      it('list returns the direct children, blobs with sizes and directories, sorted by key', async () => {
        const dir = freshDir();
        await putText(`${dir}/x.txt`, 'xxx');
        await putText(`${dir}/w.bin`, 'wwwww');
        await putText(`${dir}/b.txt`, 'b');
        await putText(`${dir}/b/y.txt`, 'yy');
        await putText(`${dir}/b/c/z.txt`, 'z');
        await putText(`${dir}/b-c/q`, 'q');
        const expected: BlobEntry[] = [
          { key: `${dir}/b`, isDir: true },
          { key: `${dir}/b-c`, isDir: true },
          { key: `${dir}/b.txt`, isDir: false, size: 1 },
          { key: `${dir}/w.bin`, isDir: false, size: 5 },
          { key: `${dir}/x.txt`, isDir: false, size: 3 },
        ];
        assert.deepEqual(await store.list(dir), expected);
        assert.deepEqual(await store.list(`${dir}/`), expected, 'a trailing slash lists the same directory');
        assert.deepEqual(await store.list(`${dir}/b`), [
          { key: `${dir}/b/c`, isDir: true },
          { key: `${dir}/b/y.txt`, isDir: false, size: 2 },
        ]);
      });

      it('list of a missing prefix, or of a blob, is empty', async () => {
        const dir = freshDir();
        await putText(`${dir}/file.txt`, 'f');
        assert.deepEqual(await store.list(`${dir}/missing`), []);
        assert.deepEqual(await store.list(`${freshDir()}/a/b/c`), []);
        assert.deepEqual(await store.list(`${dir}/file.txt`), []);
      });

      it('list of the root shows top-level blobs and directories', async () => {
        const fresh = await backend.open();
        try {
          assert.deepEqual(await fresh.store.list(''), []);
          await fresh.store.put('top.txt', Buffer.from('t'));
          await fresh.store.put('dir/inner.txt', Buffer.from('i'));
          assert.deepEqual(await fresh.store.list(''), [
            { key: 'dir', isDir: true },
            { key: 'top.txt', isDir: false, size: 1 },
          ]);
        } finally {
          await fresh.cleanup();
        }
      });

      it('listAll yields every blob under the prefix, recursively, sorted by key', async () => {
        const dir = freshDir();
        const keys = [`${dir}/x.txt`, `${dir}/b.txt`, `${dir}/b/y.txt`, `${dir}/b/c/z.txt`, `${dir}/b-c/q`, `${dir}/b0`, `${dir}/a/a/a/a/deep`];
        for (const key of keys) await putText(key, key);
        await putText(`${dir}-sibling/not-included`, 'n');
        const all = await collect(store.listAll(dir));
        const expected: BlobInfo[] = [...keys].sort().map((key) => ({ key, size: Buffer.byteLength(key) }));
        assert.deepEqual(all, expected);
        assert.deepEqual(await collect(store.listAll(`${dir}/b`)), [
          { key: `${dir}/b/c/z.txt`, size: Buffer.byteLength(`${dir}/b/c/z.txt`) },
          { key: `${dir}/b/y.txt`, size: Buffer.byteLength(`${dir}/b/y.txt`) },
        ]);
        assert.deepEqual(await collect(store.listAll(`${dir}/missing`)), []);
      });
    });

    describe('delete and move', () => {
      it('delete resolves true when it removed a blob and false when there was none', async () => {
        const dir = freshDir();
        await putText(`${dir}/gone.txt`, 'g');
        await putText(`${dir}/sub/child.txt`, 'c');
        assert.equal(await store.delete(`${dir}/gone.txt`), true);
        assert.equal(await store.stat(`${dir}/gone.txt`), undefined);
        assert.equal(await store.delete(`${dir}/gone.txt`), false);
        assert.equal(await store.delete(`${dir}/never.txt`), false);
        assert.equal(await store.delete(`${dir}/sub`), false, 'a directory is not a blob');
        assert.ok(await store.stat(`${dir}/sub/child.txt`), 'deleting a directory key leaves its children');
      });

      it('deletePrefix removes the subtree only and counts the blobs it removed', async () => {
        const dir = freshDir();
        const doomed = [`${dir}/b/1`, `${dir}/b/2`, `${dir}/b/c/3`];
        const kept = [`${dir}/b-x`, `${dir}/b.txt`, `${dir}/bc/4`, `${dir}/b0/5`];
        for (const key of [...doomed, ...kept]) await putText(key, key);
        assert.equal(await store.deletePrefix(`${dir}/b`), 3);
        assert.deepEqual(
          (await collect(store.listAll(dir))).map((b) => b.key),
          [...kept].sort(),
        );
        assert.equal(await store.deletePrefix(`${dir}/b`), 0);
        assert.equal(await store.deletePrefix(`${dir}/missing`), 0);
        assert.equal(await store.deletePrefix(`${dir}/b.txt`), 0, 'a blob is not a directory');
        assert.ok(await store.stat(`${dir}/b.txt`), 'deletePrefix of a blob key leaves the blob');
      });

      it('deletePrefix of the root removes every blob', async () => {
        const fresh = await backend.open();
        try {
          for (const key of ['a', 'b/c', 'b/d/e']) await fresh.store.put(key, Buffer.from(key));
          assert.equal(await fresh.store.deletePrefix(''), 3);
          assert.deepEqual(await fresh.store.list(''), []);
          await fresh.store.put('again', Buffer.from('still writable'));
          assert.ok(await fresh.store.stat('again'));
        } finally {
          await fresh.cleanup();
        }
      });

      it('move renames a blob, creating directories and replacing the target', async () => {
        const dir = freshDir();
        await putText(`${dir}/from.txt`, 'payload');
        await store.move(`${dir}/from.txt`, `${dir}/new/deep/to.txt`);
        assert.equal(await store.stat(`${dir}/from.txt`), undefined);
        assert.equal((await readAll(await store.get(`${dir}/new/deep/to.txt`))).toString(), 'payload');
        await putText(`${dir}/second.txt`, 'second');
        await store.move(`${dir}/second.txt`, `${dir}/new/deep/to.txt`);
        assert.equal((await readAll(await store.get(`${dir}/new/deep/to.txt`))).toString(), 'second');
        assert.deepEqual(
          (await collect(store.listAll(dir))).map((b) => b.key),
          [`${dir}/new/deep/to.txt`],
        );
      });

      it('move of a missing blob rejects with RESOURCE_DOES_NOT_EXIST', async () => {
        const dir = freshDir();
        await rejectsWith(store.move(`${dir}/absent`, `${dir}/target`), 'RESOURCE_DOES_NOT_EXIST');
        assert.equal(await store.stat(`${dir}/target`), undefined);
      });
    });

    describe('key validation', () => {
      it('every method refuses every traversal-ish key with INVALID_PARAMETER_VALUE', async () => {
        const dir = freshDir();
        const existing = `${dir}/existing.txt`;
        await putText(existing, 'safe');
        for (const bad of TRAVERSAL_KEYS) {
          const label = JSON.stringify(bad);
          await rejectsWith(() => store.put(bad, Buffer.from('evil')), 'INVALID_PARAMETER_VALUE', `put ${label}`);
          await rejectsWith(() => store.put(bad, Readable.from([Buffer.from('evil')])), 'INVALID_PARAMETER_VALUE', `put stream ${label}`);
          await rejectsWith(() => store.get(bad), 'INVALID_PARAMETER_VALUE', `get ${label}`);
          await rejectsWith(() => store.stat(bad), 'INVALID_PARAMETER_VALUE', `stat ${label}`);
          await rejectsWith(() => store.list(bad), 'INVALID_PARAMETER_VALUE', `list ${label}`);
          await rejectsWith(() => collect(store.listAll(bad)), 'INVALID_PARAMETER_VALUE', `listAll ${label}`);
          await rejectsWith(() => store.delete(bad), 'INVALID_PARAMETER_VALUE', `delete ${label}`);
          await rejectsWith(() => store.deletePrefix(bad), 'INVALID_PARAMETER_VALUE', `deletePrefix ${label}`);
          await rejectsWith(() => store.move(bad, `${dir}/moved`), 'INVALID_PARAMETER_VALUE', `move from ${label}`);
          await rejectsWith(() => store.move(existing, bad), 'INVALID_PARAMETER_VALUE', `move to ${label}`);
          await rejectsWith(() => store.move(`${dir}/absent`, bad), 'INVALID_PARAMETER_VALUE', `move absent to ${label}`);
        }
        assert.equal((await readAll(await store.get(existing))).toString(), 'safe');
        assert.deepEqual(await store.list(dir), [{ key: existing, isDir: false, size: 4 }]);
      });

      it('refuses the empty key for single-blob methods', async () => {
        for (const empty of ['', '/', '%2f']) {
          const label = JSON.stringify(empty);
          await rejectsWith(() => store.put(empty, Buffer.from('x')), 'INVALID_PARAMETER_VALUE', `put ${label}`);
          await rejectsWith(() => store.get(empty), 'INVALID_PARAMETER_VALUE', `get ${label}`);
          await rejectsWith(() => store.stat(empty), 'INVALID_PARAMETER_VALUE', `stat ${label}`);
          await rejectsWith(() => store.delete(empty), 'INVALID_PARAMETER_VALUE', `delete ${label}`);
        }
      });
    });

    describe('putFile (optional capability)', () => {
      let files: string;
      before(async () => {
        files = await mkdtemp(join(tmpdir(), 'mloop-putfile-'));
      });
      after(async () => {
        await rm(files, { recursive: true, force: true });
      });

      /** Runs `fn` with the backend's putFile, or skips: backends without it are used through put. */
      const withPutFile = (fn: (putFile: NonNullable<BlobStore['putFile']>) => Promise<void>) => async (t: TestContext) => {
        if (!store.putFile) {
          t.skip(`${backend.name} has no putFile; callers store files with put`);
          return;
        }
        await fn(store.putFile.bind(store));
      };

      /** Writes a local file of `bytes` and returns its path. */
      async function localFile(bytes: Buffer): Promise<string> {
        const path = join(files, newHexId());
        await writeFile(path, bytes);
        return path;
      }

      it(
        'stores a local file under a key and leaves the file in place',
        withPutFile(async (putFile) => {
          const key = `${freshDir()}/from-file.bin`;
          const bytes = everyByte(100_003);
          const path = await localFile(bytes);
          assert.deepEqual(await putFile(key, path), { key, size: bytes.length });
          assert.ok((await readAll(await store.get(key))).equals(bytes));
          assert.deepEqual(await store.stat(key), { key, size: bytes.length });
          assert.ok((await readFile(path)).equals(bytes), 'the source file is unchanged');
        }),
      );

      it(
        'replaces a blob; later puts, deletes and moves of the blob never change the source file',
        withPutFile(async (putFile) => {
          const dir = freshDir();
          const key = `${dir}/shared.bin`;
          await putText(key, 'old blob');
          const bytes = Buffer.from('the file content');
          const path = await localFile(bytes);
          await putFile(key, path);
          assert.equal((await readAll(await store.get(key))).toString(), 'the file content');
          await putFile(key, path);
          await putText(key, 'overwritten by put');
          assert.ok((await readFile(path)).equals(bytes), 'a put over the blob leaves the file');
          await putFile(key, path);
          await store.move(key, `${dir}/moved.bin`);
          assert.equal(await store.delete(`${dir}/moved.bin`), true);
          assert.ok((await readFile(path)).equals(bytes), 'move and delete leave the file');
          assert.deepEqual(await collect(store.listAll(dir)), [], 'no temporary file is visible');
        }),
      );

      it(
        'rejects a path that is not a file and stores nothing',
        withPutFile(async (putFile) => {
          const dir = freshDir();
          await assert.rejects(putFile(`${dir}/nothing.bin`, join(files, 'absent')));
          await assert.rejects(putFile(`${dir}/a-directory.bin`, files));
          assert.deepEqual(await collect(store.listAll(dir)), []);
        }),
      );

      it(
        'refuses every traversal-ish key with INVALID_PARAMETER_VALUE',
        withPutFile(async (putFile) => {
          const path = await localFile(Buffer.from('evil'));
          for (const bad of TRAVERSAL_KEYS) await rejectsWith(() => putFile(bad, path), 'INVALID_PARAMETER_VALUE', `putFile ${JSON.stringify(bad)}`);
        }),
      );
    });

    describe('health and streaming', () => {
      it('ping() resolves', async () => {
        await store.ping();
      });

      it('streams 64 MiB in and out without the process holding it in memory', async () => {
        const key = `${freshDir()}/large.bin`;
        const chunkSize = 256 * 1024;
        const chunkCount = (64 * 1024 * 1024) / chunkSize;
        const expectedHash = createHash('sha256');
        const chunks = Array.from({ length: 16 }, (_, i) => everyByte(chunkSize).fill(i, 0, 16));
        for (let i = 0; i < chunkCount; i++) expectedHash.update(chunks[i % chunks.length]);
        const expected = expectedHash.digest('hex');

        collectGarbage();
        const baseline = process.memoryUsage().rss;
        let peak = baseline;
        const sample = () => {
          collectGarbage();
          peak = Math.max(peak, process.memoryUsage().rss);
        };
        const source = Readable.from(
          (function* () {
            for (let i = 0; i < chunkCount; i++) {
              if (i % 32 === 0) sample();
              yield chunks[i % chunks.length];
            }
          })(),
        );
        const result = await store.put(key, source);
        assert.equal(result.size, chunkCount * chunkSize);
        assert.equal(result.sha256, expected);

        const readHash = createHash('sha256');
        let read = 0;
        let nextSample = 0;
        for await (const chunk of await store.get(key)) {
          readHash.update(chunk as Buffer);
          read += (chunk as Buffer).length;
          if (read >= nextSample) {
            sample();
            nextSample += 8 * 1024 * 1024;
          }
        }
        sample();
        assert.equal(read, chunkCount * chunkSize);
        assert.equal(readHash.digest('hex'), expected);
        const growthMiB = (peak - baseline) / (1024 * 1024);
        assert.ok(growthMiB < 32, `RSS grew by ${growthMiB.toFixed(1)} MiB while streaming 64 MiB`);
        await store.delete(key);
      });
    });
  });
}
