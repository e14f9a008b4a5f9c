/**
 * Path traversal, after MLflow's CVE history: CVE-2023-1177 (`..` in artifact paths and local
 * sources), CVE-2023-2356 and CVE-2023-6831 (`..` that survives one decoding: `%2E%2E`, `..%2F`,
 * double encoding), CVE-2023-2780 (absolute and `//` paths), CVE-2023-6909, CVE-2023-6977 and
 * CVE-2024-1483 (`#` and `?` that hide a traversal from a URL parser), CVE-2024-1558 (traversal
 * behind a valid run prefix), CVE-2024-3573 (UNC `//host/share`, Windows drives, backslashes).
 *
 * Every input goes, with the raw request target untouched, to every artifact route: upload,
 * download, delete, the proxied listing and the run listing (whose `run_id` is attacked too). A
 * canary placed just outside the artifact root, and a sibling directory whose name extends the
 * root's, must never be read, listed, overwritten or deleted; nothing new may appear outside the root.
 */
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newHexId } from '../src/core/ids.ts';
import { LocalBlobStore } from '../src/storage/local/blob-store.ts';
import type { BlobStore } from '../src/storage/ports.ts';
import { S3BlobStore } from '../src/storage/s3/blob-store.ts';
import { blobBackends, s3TestConfig } from './support/backends.ts';
import { rawRequest, type RawResponse } from './support/raw-http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const A = '/api/2.0/mlflow-artifacts/artifacts';

/** What lies outside the artifact root: canaries to plant, and a snapshot to compare. */
interface Outside {
  /** Name of the artifact root's last segment (the sibling is `<name>-evil`). */
  readonly rootName: string;
  plant(marker: string): Promise<void>;
  snapshot(): Promise<Map<string, string>>;
}

async function localOutside(store: LocalBlobStore): Promise<Outside> {
  const parent = dirname(store.root);
  const rootName = basename(store.root);
  async function walk(dir: string, out: Map<string, string>): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (full === store.root) continue;
      if (entry.isDirectory()) await walk(full, out);
      else out.set(full, entry.isSymbolicLink() ? '<link>' : await readFile(full, 'utf8'));
    }
  }
  return {
    rootName,
    async plant(marker) {
      await writeFile(join(parent, 'canary.txt'), `${marker} canary`);
      await mkdir(join(parent, `${rootName}-evil`), { recursive: true });
      await writeFile(join(parent, `${rootName}-evil`, 'secret.txt'), `${marker} sibling`);
    },
    async snapshot() {
      const out = new Map<string, string>();
      await walk(parent, out);
      return out;
    },
  };
}

async function s3Outside(store: BlobStore): Promise<Outside> {
  // location is s3://<bucket>/prefix/inside (see test/support/backends.ts)
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(store.location);
  assert.ok(match, `unexpected S3 location ${store.location}`);
  const [, bucket, prefix] = match;
  const bucketRoot = new S3BlobStore(s3TestConfig(bucket, ''));
  const rootName = prefix.split('/').pop()!;
  const parentPrefix = prefix.split('/').slice(0, -1).join('/');
  return {
    rootName,
    async plant(marker) {
      await bucketRoot.put('canary.txt', Buffer.from(`${marker} bucket canary`));
      await bucketRoot.put(`${parentPrefix}/canary.txt`, Buffer.from(`${marker} canary`));
      await bucketRoot.put(`${parentPrefix}/${rootName}-evil/secret.txt`, Buffer.from(`${marker} sibling`));
    },
    async snapshot() {
      const out = new Map<string, string>();
      for await (const blob of bucketRoot.listAll('')) {
        if (blob.key.startsWith(`${prefix}/`)) continue;
        const chunks: Buffer[] = [];
        for await (const chunk of await bucketRoot.get(blob.key)) chunks.push(chunk as Buffer);
        out.set(blob.key, Buffer.concat(chunks).toString('utf8'));
      }
      return out;
    },
  };
}

/** One hostile path. `strict`: every artifact route must answer 400 INVALID_PARAMETER_VALUE. */
interface Attack {
  readonly path: string;
  readonly strict: boolean;
}

/** The hostile paths, by the rule they test. `SIB` is replaced by the sibling directory's name. */
const ATTACKS: Record<string, Attack[]> = {
  'a ".." segment (CVE-2023-1177, CVE-2024-1558)': [
    { path: '../canary.txt', strict: true },
    { path: 'a/../../canary.txt', strict: true },
    { path: '0/run/artifacts/../../../canary.txt', strict: true },
    { path: '../../../../../../../../etc/passwd', strict: true },
    { path: '../SIB/secret.txt', strict: true },
    { path: '..', strict: true },
    { path: 'a/..', strict: true },
    { path: './canary.txt', strict: true },
  ],
  'a ".." hidden by one percent-encoding (CVE-2023-2356, CVE-2023-6831)': [
    { path: '..%2fcanary.txt', strict: true },
    { path: '..%2Fcanary.txt', strict: true },
    { path: '%2e%2e/canary.txt', strict: true },
    { path: '%2E%2E%2Fcanary.txt', strict: true },
    { path: '.%2e/canary.txt', strict: true },
    { path: 'a/%2e%2e/%2e%2e/canary.txt', strict: true },
    { path: '..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd', strict: true },
    { path: '%2e%2e%2fSIB%2fsecret.txt', strict: true },
  ],
  'double and triple encoding': [
    { path: '%252e%252e%252fcanary.txt', strict: true },
    { path: '%25252e%25252e%25252fcanary.txt', strict: true },
    { path: '%252E%252E/SIB/secret.txt', strict: true },
    { path: '%252fetc%252fpasswd', strict: true },
    { path: '..%255ccanary.txt', strict: true },
  ],
  'an absolute POSIX path or "//" UNC prefix (CVE-2023-2780, CVE-2024-3573)': [
    { path: '/etc/passwd', strict: true },
    { path: '%2fetc%2fpasswd', strict: true },
    { path: '/%2e%2e/canary.txt', strict: true },
    { path: '//server/share/canary.txt', strict: true },
    { path: '%2f%2fserver%2fshare%2fcanary.txt', strict: true },
    { path: 'a//b', strict: true },
  ],
  'an absolute Windows path': [
    { path: 'C:%5cWindows%5cwin.ini', strict: true },
    { path: 'C:/Windows/win.ini', strict: true },
    { path: 'c:canary.txt', strict: true },
    { path: 'C%3a%2fcanary.txt', strict: true },
  ],
  'a backslash': [
    { path: '..%5ccanary.txt', strict: true },
    { path: '..\\canary.txt', strict: true },
    { path: 'a%5c..%5c..%5ccanary.txt', strict: true },
    { path: '%5c%5cserver%5cshare', strict: true },
  ],
  'a NUL or control character': [
    { path: 'canary.txt%00.png', strict: true },
    { path: '..%00/canary.txt', strict: true },
    { path: 'a%0a/../canary.txt', strict: true },
    { path: 'a%2500b', strict: true },
    { path: 'a%7fb', strict: true },
  ],
  '"?" or "#" (CVE-2023-6909, CVE-2023-6977, CVE-2024-1483)': [
    { path: 'a%23/../../canary.txt', strict: true },
    { path: 'a%3f/../../canary.txt', strict: true },
    { path: 'a%2523/../canary.txt', strict: true },
    { path: 'model%3Fx=1', strict: true },
    { path: 'a#/../../canary.txt', strict: true },
    // A raw "?" starts the query, so the server sees only "a"; the point is that nothing escapes.
    { path: 'a?/../../canary.txt', strict: false },
  ],
  'a malformed encoding': [
    { path: '%c0%ae%c0%ae/canary.txt', strict: true },
    { path: '%e0%a4%a', strict: true },
    { path: '%2e%2e%u002fcanary.txt', strict: true },
  ],
};

const LEAKS = [/root:x:0:0/];

for (const backend of blobBackends()) {
  describe(`artifact path traversal (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let outside: Outside;
    let before_: Map<string, string>;
    let runId: string;
    const marker = `CANARY-${newHexId()}`;

    before(async () => {
      server = await startTestServer({ blobs: backend });
      outside =
        server.blobs instanceof LocalBlobStore ? await localOutside(server.blobs) : await s3Outside(server.blobs);
      await outside.plant(marker);
      before_ = await outside.snapshot();
      const experiment = await server.json('POST', '/api/2.0/mlflow/experiments/create', { name: 'traversal' });
      const run = await server.json('POST', '/api/2.0/mlflow/runs/create', { experiment_id: experiment.body?.experiment_id });
      runId = run.body?.run?.info?.run_id ?? newHexId();
      // A legitimate file, to show the same requests do reach the store when the path is sound.
      await rawRequest(server.url, 'PUT', `${A}/inside/ok.txt`, { body: 'inside', headers: { 'content-length': '6' } });
    });
    after(() => server?.close());

    function assertNoLeak(response: RawResponse, what: string): void {
      assert.ok(response.status < 500, `${what}: ${response.status} ${response.body}`);
      assert.ok(!response.body.includes(marker), `${what} leaked the canary: ${response.body}`);
      for (const leak of LEAKS) assert.doesNotMatch(response.body, leak, `${what} leaked a system file`);
      if (response.status === 200 && response.body.startsWith('{')) {
        const files = (JSON.parse(response.body) as { files?: { path: string }[] }).files ?? [];
        for (const file of files) {
          assert.ok(!/canary|evil|passwd/.test(file.path), `${what} listed ${file.path}`);
        }
      }
    }

    function assertRefused(response: RawResponse, what: string): void {
      assert.equal(response.status, 400, `${what}: expected 400, got ${response.status} ${response.body}`);
      const body = JSON.parse(response.body) as { error_code: string; message: string };
      assert.ok(
        body.error_code === 'INVALID_PARAMETER_VALUE' || body.error_code === 'BAD_REQUEST',
        `${what}: error_code ${body.error_code}`,
      );
    }

    /** Sends `path` to every route; returns nothing, asserts as it goes. */
    async function attackEveryRoute(attack: Attack): Promise<void> {
      const path = attack.path.replaceAll('SIB', `${outside.rootName}-evil`);
      // Uploads carry their own text: an upload that lands inside the root (raw "?") may be read back.
      const body = 'planted by an attack';
      const requests: [string, string, string, { body?: string; headers?: Record<string, string> }][] = [
        ['upload', 'PUT', `${A}/${path}`, { body, headers: { 'content-length': String(body.length) } }],
        ['upload (no content-type, chunked)', 'PUT', `${A}/${path}`, { body, headers: { 'transfer-encoding': 'chunked' } }],
        ['download', 'GET', `${A}/${path}`, {}],
        ['delete', 'DELETE', `${A}/${path}`, {}],
        ['list', 'GET', `${A}?path=${path}`, {}],
        ['run list', 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=${path}`, {}],
      ];
      for (const [what, method, target, options] of requests) {
        const response = await rawRequest(server.url, method, target, options);
        const label = `${what} ${JSON.stringify(attack.path)}`;
        assertNoLeak(response, label);
        // In a query, a raw "#" or "?" ends or splits the value; those are covered by the path routes.
        const queryMangled = (what === 'list' || what === 'run list') && /[#?]/.test(path);
        if (attack.strict && !queryMangled) assertRefused(response, label);
      }
    }

    for (const [rule, attacks] of Object.entries(ATTACKS)) {
      it(`refuses a path with ${rule} on every route`, async () => {
        for (const attack of attacks) await attackEveryRoute(attack);
      });
    }

    it('refuses a run_id that tries to walk out of the run listing', async () => {
      for (const id of ['../../..', '..%2f..%2f..', '%252e%252e%252f', `${runId}/../..`, `${runId}%2f..%2f..`, '/etc', '..\\..']) {
        const response = await rawRequest(server.url, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${id}`);
        assertNoLeak(response, `run_id ${id}`);
        assert.ok(response.status >= 400 && response.status < 500, `run_id ${id}: ${response.status}`);
      }
    });

    it('offers no other way in: MLflow’s get-artifact routes and the ajax prefix', async () => {
      for (const target of [
        `/api/2.0/mlflow/get-artifact?path=../canary.txt&run_uuid=${runId}`,
        '/api/2.0/mlflow/model-versions/get-artifact?name=m&version=1&path=../../canary.txt',
        '/ajax-api/2.0/mlflow-artifacts/artifacts/../canary.txt',
        '/api/2.0/mlflow-artifacts/artifacts/../../mlflow-artifacts/artifacts/../canary.txt',
        '/api/2.0/mlflow-artifacts/mpu/create/../canary.txt',
      ]) {
        for (const method of ['GET', 'PUT', 'POST', 'DELETE']) {
          const response = await rawRequest(server.url, method, target, { body: 'planted', headers: { 'content-length': '7' } });
          assertNoLeak(response, `${method} ${target}`);
          assert.ok(response.status >= 400, `${method} ${target}: ${response.status}`);
        }
      }
    });

    if (backend.name === 'local') {
      it('does not follow a symbolic link inside the root to the outside', async () => {
        const root = (server.blobs as LocalBlobStore).root;
        await symlink(dirname(root), join(root, 'escape'));
        for (const [method, target] of [
          ['GET', `${A}/escape/canary.txt`],
          ['PUT', `${A}/escape/planted.txt`],
          ['DELETE', `${A}/escape/canary.txt`],
          ['GET', `${A}?path=escape`],
        ] as const) {
          const response = await rawRequest(server.url, method, target, { body: 'planted', headers: { 'content-length': '7' } });
          assertNoLeak(response, `${method} ${target}`);
          assertRefused(response, `${method} ${target}`);
        }
      });
    }

    it('still serves a sound path (the attacks reached a working store)', async () => {
      const response = await rawRequest(server.url, 'GET', `${A}/inside/ok.txt`);
      assert.equal(response.status, 200);
      assert.equal(response.body, 'inside');
    });

    it('left everything outside the artifact root exactly as it was', async () => {
      const now = await outside.snapshot();
      assert.deepEqual([...now.entries()].sort(), [...before_.entries()].sort());
      assert.ok([...now.values()].some((v) => v === `${marker} canary`), 'the canary is still there');
    });
  });
}
