/** Local-directory behaviour of the blob store beyond the shared contract: symbolic links, temporary files. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isMloopError } from '../../core/errors.ts';
import { tempDir } from '../../../test/support/backends.ts';
import { LocalBlobStore } from './blob-store.ts';

/** Resolves to the value, or to the MloopError the promise rejected with (any other error fails). */
async function settle<T>(promise: Promise<T>): Promise<T | { refused: string }> {
  try {
    return await promise;
  } catch (error) {
    assert.ok(isMloopError(error), `expected an MloopError, got ${String(error)}`);
    assert.ok(error.status >= 400 && error.status < 500, `expected a 4xx, got ${error.code}`);
    return { refused: error.code };
  }
}

/** True when the promise was refused with a 4xx MloopError. */
async function refused(promise: Promise<unknown>): Promise<boolean> {
  const outcome: unknown = await settle(promise);
  return typeof outcome === 'object' && outcome !== null && 'refused' in outcome;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('LocalBlobStore', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let outside: string;
  let store: LocalBlobStore;

  beforeEach(async () => {
    dir = await tempDir();
    outside = join(dir.path, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'secret');
    store = await new LocalBlobStore(join(dir.path, 'root')).init();
    await store.put('inside.txt', Buffer.from('inside'));
    await symlink(outside, join(store.root, 'link'));
    await symlink(join(outside, 'secret.txt'), join(store.root, 'file-link'));
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  it('does not follow a symbolic link out of the root for reads', async () => {
    for (const key of ['link/secret.txt', 'file-link']) {
      assert.ok(await refused(store.get(key)), `get ${key} is refused`);
      const info = await settle(store.stat(key));
      assert.ok(info === undefined || 'refused' in info, `stat ${key} reveals nothing`);
    }
    const listed = await settle(store.list('link'));
    assert.ok(!Array.isArray(listed) || listed.length === 0, 'list of the link shows nothing outside');
    const all: string[] = [];
    for await (const blob of store.listAll('')) all.push(blob.key);
    assert.deepEqual(all, ['inside.txt']);
    assert.deepEqual(await store.list(''), [{ key: 'inside.txt', isDir: false, size: 6 }]);
  });

  it('does not follow a symbolic link out of the root for writes, deletes or moves', async () => {
    assert.ok(await refused(store.put('link/planted.txt', Buffer.from('x'))));
    assert.ok(await refused(store.put('link/deeper/planted.txt', Buffer.from('x'))));
    assert.ok(await refused(store.put('file-link', Buffer.from('overwritten'))));
    const deleted = await settle(store.delete('link/secret.txt'));
    assert.ok(deleted === false || (typeof deleted === 'object' && 'refused' in deleted));
    const deletedLink = await settle(store.delete('file-link'));
    assert.ok(deletedLink === false || (typeof deletedLink === 'object' && 'refused' in deletedLink));
    const count = await settle(store.deletePrefix('link'));
    assert.ok(count === 0 || (typeof count === 'object' && 'refused' in count));
    assert.ok(await refused(store.move('link/secret.txt', 'stolen.txt')));
    assert.ok(await refused(store.move('file-link', 'stolen.txt')));
    assert.ok(await refused(store.move('inside.txt', 'link/planted.txt')));

    assert.deepEqual(await readdir(outside), ['secret.txt']);
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'secret');
    assert.equal(await store.stat('stolen.txt'), undefined);
    assert.equal(await readAll(await store.get('inside.txt')), 'inside');
  });

  it('deletePrefix of the root removes the links, not what they point at', async () => {
    assert.equal(await store.deletePrefix(''), 1);
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'secret');
    assert.equal(existsSync(join(store.root, 'link')), false);
  });

  it('leaves no temporary file behind when a put fails', async () => {
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(10_000);
        throw new Error('source broke');
      })(),
    );
    await assert.rejects(store.put('broken.bin', failing));
    await assert.rejects(store.put('big.bin', Buffer.alloc(100), { maxBytes: 10 }));
    assert.deepEqual(await readdir(join(store.root, '.tmp')), []);
  });

  it('putFile links the file in (one copy of the bytes, not two) and leaves no temporary file', async () => {
    const source = join(dir.path, 'result.parquet');
    await writeFile(source, 'canonical bytes');
    await store.putFile('cas/ab/result', source);
    const [a, b] = [await stat(source), await stat(join(store.root, 'cas', 'ab', 'result'))];
    assert.equal(a.ino, b.ino, 'the blob is the same file');
    assert.equal(a.nlink, 2);
    await store.putFile('cas/ab/result', source);
    assert.equal((await stat(source)).nlink, 2, 'storing the same file again adds no name');
    assert.deepEqual(await readdir(join(store.root, '.tmp')), []);
  });

  it('putFile does not follow a symbolic link out of the root', async () => {
    const source = join(dir.path, 'file.bin');
    await writeFile(source, 'x');
    assert.ok(await refused(store.putFile('link/planted.txt', source)));
    assert.deepEqual(await readdir(outside), ['secret.txt']);
  });

  it('refuses keys inside its temporary folder', async () => {
    for (const key of ['.tmp', '.tmp/x', '.tmp/../x']) {
      assert.ok(await refused(store.put(key, Buffer.from('x'))), `put ${key}`);
    }
  });

  it('init() removes temporary files left by a crash', async () => {
    await writeFile(join(store.root, '.tmp', 'left-by-crash'), 'partial');
    await new LocalBlobStore(store.root).init();
    assert.deepEqual(await readdir(join(store.root, '.tmp')), []);
    assert.equal(await readAll(await store.get('inside.txt')), 'inside');
  });
});
