/** Content addressing over every blob backend of the test matrix. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { blobBackends } from '../../test/support/backends.ts';
import { isMloopError } from '../core/errors.ts';
import { contentKey, getContent, putContent, putContentFile } from './content.ts';
import type { BlobInfo, BlobStore } from './ports.ts';

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** The same store seen without its optional putFile, as a backend that lacks it. */
function withoutPutFile(store: BlobStore): BlobStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'putFile') return undefined;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function listAll(store: BlobStore, prefix: string): Promise<BlobInfo[]> {
  const out: BlobInfo[] = [];
  for await (const blob of store.listAll(prefix)) out.push(blob);
  return out;
}

describe('contentKey', () => {
  it('names content by its sha256 under cas/<first two hex digits>/', () => {
    const sha = sha256(Buffer.from('x'));
    assert.equal(contentKey(sha), `cas/${sha.slice(0, 2)}/${sha}`);
  });

  it('refuses anything that is not a lowercase hex sha256', () => {
    for (const bad of ['', 'abc', sha256(Buffer.from('x')).toUpperCase(), `../${'a'.repeat(61)}`, 'g'.repeat(64)]) {
      assert.throws(() => contentKey(bad), (e: unknown) => isMloopError(e) && e.code === 'INVALID_PARAMETER_VALUE');
    }
  });
});

for (const backend of blobBackends()) {
  describe(`putContent: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let store: BlobStore;
    before(async () => {
      opened = await backend.open();
      store = opened.store;
    });
    after(async () => {
      await opened?.cleanup();
    });

    it('stores the same bytes once: same key twice, created only the first time, staging left empty', async () => {
      const bytes = Buffer.from(`model weights ${backend.name} ${Date.now()}`);
      const first = await putContent(store, bytes);
      assert.deepEqual(first, { sha256: sha256(bytes), size: bytes.length, key: contentKey(sha256(bytes)), created: true });
      const second = await putContent(store, Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]));
      assert.deepEqual(second, { ...first, created: false });
      assert.deepEqual(await readAll(await getContent(store, first.sha256)), bytes);
      assert.deepEqual(await store.list('staging'), []);
      assert.deepEqual(await listAll(store, 'staging'), []);
      assert.deepEqual(
        (await listAll(store, 'cas')).filter((b) => b.key === first.key),
        [{ key: first.key, size: bytes.length }],
      );
    });

    it('gives different content different keys', async () => {
      const a = await putContent(store, Buffer.from('content a'));
      const b = await putContent(store, Buffer.from('content b'));
      assert.notEqual(a.key, b.key);
      assert.equal((await readAll(await getContent(store, a.sha256))).toString(), 'content a');
      assert.equal((await readAll(await getContent(store, b.sha256))).toString(), 'content b');
    });

    it('stores empty content', async () => {
      const ref = await putContent(store, new Uint8Array(0));
      assert.equal(ref.sha256, sha256(new Uint8Array(0)));
      assert.equal(ref.size, 0);
      assert.equal((await readAll(await getContent(store, ref.sha256))).length, 0);
    });

    it('keeps one copy when the same bytes are stored concurrently', async () => {
      const bytes = Buffer.alloc(50_000, 7);
      const refs = await Promise.all(Array.from({ length: 3 }, () => putContent(store, bytes)));
      assert.equal(new Set(refs.map((r) => r.key)).size, 1);
      assert.ok(refs.some((r) => r.created));
      assert.ok((await readAll(await getContent(store, refs[0].sha256))).equals(bytes));
      assert.deepEqual(await listAll(store, 'staging'), []);
    });

    it('refuses a body over maxBytes and leaves nothing behind', async () => {
      const before = await listAll(store, '');
      await assert.rejects(
        putContent(store, Buffer.alloc(2048, 1), { maxBytes: 1024 }),
        (e: unknown) => isMloopError(e) && e.code === 'PAYLOAD_TOO_LARGE',
      );
      assert.deepEqual(await listAll(store, ''), before);
    });

    it('putContentFile stores a file by the sha256 given, once, with or without the store\'s putFile', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mloop-content-'));
      try {
        for (const [label, target] of [['own', store], ['without putFile', withoutPutFile(store)]] as const) {
          const bytes = Buffer.from(`dataset file ${label} ${backend.name} ${Date.now()}`);
          const path = join(dir, 'file.parquet');
          await writeFile(path, bytes);
          const first = await putContentFile(target, path, sha256(bytes));
          assert.deepEqual(first, { sha256: sha256(bytes), size: bytes.length, key: contentKey(sha256(bytes)), created: true }, label);
          assert.deepEqual(await putContentFile(target, path, sha256(bytes)), { ...first, created: false }, label);
          assert.deepEqual(await putContent(target, bytes), { ...first, created: false }, label);
          assert.deepEqual(await readAll(await getContent(store, first.sha256)), bytes, label);
          assert.deepEqual(await listAll(store, 'staging'), [], label);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('putContentFile without putFile refuses a file whose bytes do not hash to the sha256 given, keeping nothing', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mloop-content-'));
      try {
        const path = join(dir, 'changed.parquet');
        await writeFile(path, `changed after hashing ${backend.name} ${Date.now()}`);
        const claimed = sha256(Buffer.from('what was hashed'));
        const before = await listAll(store, '');
        await assert.rejects(putContentFile(withoutPutFile(store), path, claimed), (e: unknown) => isMloopError(e) && e.code === 'INTERNAL_ERROR');
        assert.deepEqual(await listAll(store, ''), before);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('getContent of unknown content rejects with RESOURCE_DOES_NOT_EXIST', async () => {
      await assert.rejects(
        getContent(store, sha256(Buffer.from('never stored'))),
        (e: unknown) => isMloopError(e) && e.code === 'RESOURCE_DOES_NOT_EXIST',
      );
    });
  });
}
