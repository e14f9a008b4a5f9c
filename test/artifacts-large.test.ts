/**
 * Uploads and downloads stream: a 1 GiB artifact goes through the server and back while the
 * process's resident memory stays far below the file's size. The body is generated on the fly
 * (never a 1 GiB buffer) and hashed at both ends. Local files only: the S3 adapter streams through
 * the same code path, and s3rver would make this test minutes long on CI.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/server.ts';

const MiB = 1024 * 1024;
const TOTAL = 1024 * MiB;
const RSS_BUDGET = 256 * MiB;

/** Yields `total` bytes made of one random 1 MiB block repeated; nothing larger is ever allocated. */
async function* generate(total: number): AsyncGenerator<Buffer> {
  const block = randomBytes(MiB);
  for (let sent = 0; sent < total; sent += block.length) yield block.subarray(0, Math.min(block.length, total - sent));
}

/** Hashes and counts what passes through. */
function hasher() {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex'), bytes: () => bytes };
}

/** Samples the peak resident set size until stopped. */
function rssSampler() {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

describe('artifacts: streaming a 1 GiB file', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ maxArtifactBytes: 2 * TOTAL });
  });
  after(() => server.close());

  it('uploads and downloads 1 GiB with bounded memory and identical bytes', async () => {
    const url = new URL(server.url);
    const path = '/api/2.0/mlflow-artifacts/artifacts/0/large/artifacts/big.bin';
    global.gc?.();
    const baseline = process.memoryUsage.rss();
    const sampler = rssSampler();
    const sent = hasher();
    const agent = new http.Agent({ keepAlive: false });

    const uploadStatus = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        { host: url.hostname, port: url.port, method: 'PUT', path, agent, headers: { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) } },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', reject);
      pipeline(Readable.from(generate(TOTAL)), sent.stream, request).catch(reject);
    });
    assert.equal(uploadStatus, 200);
    assert.equal(sent.bytes(), TOTAL);

    const received = hasher();
    const download = await new Promise<{ status: number; length: string | undefined }>((resolve, reject) => {
      http
        .get({ host: url.hostname, port: url.port, path, agent }, (response) => {
          pipeline(response, received.stream, async function* (source) {
            for await (const _ of source) {
              // drained; the hasher has seen the bytes
            }
          }).then(() => resolve({ status: response.statusCode ?? 0, length: response.headers['content-length'] }), reject);
        })
        .on('error', reject);
    });
    const peak = sampler.stop();
    agent.destroy();

    assert.equal(download.status, 200);
    assert.equal(download.length, String(TOTAL));
    assert.equal(received.bytes(), TOTAL);
    assert.equal(received.digest(), sent.digest());
    assert.ok(
      peak - baseline < RSS_BUDGET,
      `resident memory grew by ${Math.round((peak - baseline) / MiB)} MiB while moving ${TOTAL / MiB} MiB (budget ${RSS_BUDGET / MiB} MiB)`,
    );
    const stored = await server.blobs.stat('0/large/artifacts/big.bin');
    assert.equal(stored?.size, TOTAL);
  });
});
