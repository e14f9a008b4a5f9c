/**
 * Uploads stream: a 32 MiB CSV, generated while it is sent, goes through the server to a temporary
 * file without the JavaScript side ever holding more than a few MiB of it, and DuckDB converts it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './support/server.ts';

const TARGET_BYTES = 32 * 1024 * 1024;

/** CSV lines `i,i/8` until about `TARGET_BYTES`, produced on demand. */
function generatedCsv(): { stream: Readable; rows: () => number } {
  let i = 0;
  let bytes = 0;
  const stream = new Readable({
    read() {
      if (bytes >= TARGET_BYTES) {
        this.push(null);
        return;
      }
      const lines: string[] = i === 0 ? ['id,value'] : [];
      for (let k = 0; k < 4096; k++, i++) lines.push(`${i},${i / 8}`);
      const chunk = Buffer.from(`${lines.join('\n')}\n`);
      bytes += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, rows: () => i };
}

describe('large uploads', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ maxArtifactBytes: 1024 ** 3 });
  });
  after(() => server?.close());

  it('stream to disk and DuckDB without being held in memory', async () => {
    // Live memory, not garbage: collect before each sample.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const memory = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = memory();
    let peak = baseline;
    // fetch() would read a stream body ahead of the socket; node:http keeps back-pressure end to end.
    // Measured while bytes are in flight; afterwards the profile's typed arrays (bounded, by design) take over.
    const sampler = setInterval(() => (peak = Math.max(peak, memory())), 100);
    const { stream, rows } = generatedCsv();
    stream.once('end', () => clearInterval(sampler));
    try {
      const url = new URL(server.url);
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = http.request(
          { host: url.hostname, port: url.port, method: 'POST', path: '/api/v1/datasets/big/versions', agent: false, headers: { 'content-type': 'text/csv' } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (c: Buffer) => chunks.push(c));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          },
        );
        request.on('error', reject);
        pipeline(stream, request).catch(reject);
      });
      const body = JSON.parse(text) as { version: { row_count: number; source: { bytes: number } } };
      assert.equal(status, 201, text);
      assert.equal(body.version.row_count, rows());
      assert.ok(body.version.source.bytes >= TARGET_BYTES);
    } finally {
      clearInterval(sampler);
    }
    const grown = peak - baseline;
    assert.ok(grown < 16 * 1024 * 1024, `JavaScript memory grew by ${(grown / 1024 / 1024).toFixed(1)} MiB while 32 MiB were uploaded`);
  });
});
