/**
 * What the S3 adapter adds to the blob-store contract (run by `contract/blob-store.test.ts`): the
 * multipart copy that moves objects above CopyObject's 5 GiB limit.
 *
 * s3rver, the S3 endpoint of the tests, does not implement UploadPartCopy (it answers NotImplemented),
 * so only the failure path of a multipart move runs here: the source must survive it and no target
 * may appear. The part plan is checked as pure arithmetic.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { createTestBucket, s3TestConfig } from '../../../test/support/backends.ts';
import { COPY_PART_BYTES, S3BlobStore, copyPartRanges } from './blob-store.ts';

const GiB = 1024 ** 3;

describe('copyPartRanges', () => {
  it('covers every byte once, in order, with equal parts but the last', () => {
    const ranges = copyPartRanges(10 * GiB + 7, COPY_PART_BYTES);
    assert.equal(ranges.length, 21);
    assert.deepEqual(ranges[0], { first: 0, last: COPY_PART_BYTES - 1 });
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i].first, ranges[i - 1].last + 1);
    assert.deepEqual(ranges.at(-1), { first: 20 * COPY_PART_BYTES, last: 10 * GiB + 6 });
  });

  it('moves the largest upload (64 GiB) in 128 parts of 512 MiB', () => {
    const ranges = copyPartRanges(64 * GiB, COPY_PART_BYTES);
    assert.equal(ranges.length, 128);
    assert.ok(ranges.every((r) => r.last - r.first + 1 === COPY_PART_BYTES));
  });

  it('grows the parts to stay within 10,000 of them', () => {
    const size = 6 * 1024 * GiB;
    const ranges = copyPartRanges(size, 5 * 1024 ** 2);
    assert.ok(ranges.length <= 10_000, `${ranges.length} parts`);
    assert.equal(ranges.at(-1)!.last, size - 1);
  });
});

const endpoint = process.env.MLOOP_TEST_S3_ENDPOINT;

describe('S3BlobStore.move above the multipart threshold', { skip: endpoint ? undefined : 'MLOOP_TEST_S3_ENDPOINT is not set' }, () => {
  it('keeps the source and leaves no target when the part copy fails (s3rver has no UploadPartCopy)', async () => {
    const bucket = await createTestBucket();
    const store = new S3BlobStore({ ...s3TestConfig(bucket, 'p'), multipartCopyThreshold: 4, copyPartBytes: 5 * 1024 ** 2 });
    try {
      await store.put('tmp/upload', Buffer.from('0123456789'));
      await assert.rejects(store.move('tmp/upload', 'sha256/ab'), (error: Error) => /NotImplemented|not implemented/i.test(`${error.name} ${error.message}`));
      assert.deepEqual(await store.stat('tmp/upload'), { key: 'tmp/upload', size: 10 });
      assert.equal(await store.stat('sha256/ab'), undefined);
      const chunks: Buffer[] = [];
      for await (const chunk of Readable.from(await store.get('tmp/upload'))) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), '0123456789');
      // Below the threshold the same store moves with one CopyObject.
      await store.put('small', Buffer.from('abc'));
      await store.move('small', 'moved');
      assert.deepEqual(await store.stat('moved'), { key: 'moved', size: 3 });
      assert.equal(await store.stat('small'), undefined);
    } finally {
      await store.deletePrefix('');
      await store.close();
    }
  });
});
