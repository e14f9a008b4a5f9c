/**
 * The proxied artifact service over HTTP, on every blob backend: upload, download, list, delete,
 * size limits, content types, and the run listing `/api/2.0/mlflow/artifacts/list`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blobBackends } from './support/backends.ts';
import { rawRequest } from './support/raw-http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const A = '/api/2.0/mlflow-artifacts/artifacts';
const MAX = 64 * 1024;

for (const backend of blobBackends()) {
  describe(`artifacts over HTTP (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ blobs: backend, maxArtifactBytes: MAX });
    });
    after(() => server?.close());

    const put = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
      rawRequest(server.url, 'PUT', `${A}/${path}`, { body, headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } });

    it('uploads and downloads bytes unchanged, whatever the content type', async () => {
      const cases: [string, Record<string, string>][] = [
        ['ct/none.bin', {}],
        ['ct/plain.bin', { 'content-type': 'text/plain' }],
        ['ct/json.bin', { 'content-type': 'application/json' }],
        ['ct/form.bin', { 'content-type': 'application/x-www-form-urlencoded' }],
        ['ct/multipart.bin', { 'content-type': 'multipart/form-data; boundary=x' }],
      ];
      for (const [path, headers] of cases) {
        // Not valid JSON on purpose: the body must never be parsed.
        const body = `{"not json" ${path} \u00e9\u0000\u00ff`;
        const response = await put(path, body, headers);
        assert.equal(response.status, 200, `${path}: ${response.body}`);
        assert.deepEqual(JSON.parse(response.body), {});
        const got = await server.fetch(`${A}/${path}`);
        assert.equal(got.status, 200);
        assert.equal(Buffer.from(await got.arrayBuffer()).toString(), body);
      }
    });

    it('accepts a chunked upload without a content-type and an empty file', async () => {
      const chunked = await rawRequest(server.url, 'PUT', `${A}/misc/chunked.txt`, {
        body: 'streamed',
        headers: { 'transfer-encoding': 'chunked' },
      });
      assert.equal(chunked.status, 200);
      const empty = await rawRequest(server.url, 'PUT', `${A}/misc/empty.txt`);
      assert.equal(empty.status, 200);
      assert.equal(await (await server.fetch(`${A}/misc/chunked.txt`)).text(), 'streamed');
      const got = await server.fetch(`${A}/misc/empty.txt`);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-length'), '0');
      assert.equal(await got.text(), '');
    });

    it('replaces an artifact written twice', async () => {
      await put('misc/twice.txt', 'first');
      await put('misc/twice.txt', 'second, longer');
      assert.equal(await (await server.fetch(`${A}/misc/twice.txt`)).text(), 'second, longer');
    });

    it('sets content-type by extension, content-length and an attachment disposition', async () => {
      const files: [string, string][] = [
        ['types/m.json', 'application/json'],
        ['types/notes.txt', 'text/plain; charset=utf-8'],
        ['types/data.csv', 'text/csv; charset=utf-8'],
        ['types/p.png', 'image/png'],
        ['types/page.html', 'text/plain; charset=utf-8'],
        ['types/drawing.svg', 'text/plain; charset=utf-8'],
        ['types/model.onnx', 'application/octet-stream'],
        ['types/MLmodel', 'application/octet-stream'],
      ];
      for (const [path, type] of files) {
        await put(path, 'abc');
        const got = await server.fetch(`${A}/${path}`);
        assert.equal(got.status, 200);
        assert.equal(got.headers.get('content-type'), type, path);
        assert.equal(got.headers.get('content-length'), '3');
        assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
        assert.match(got.headers.get('content-disposition') ?? '', /^attachment; filename="/);
      }
    });

    it('handles names with spaces and unicode, encoded once', async () => {
      const name = 'uni/r\u00e9sum\u00e9 final.txt';
      const encoded = name.split('/').map(encodeURIComponent).join('/');
      assert.equal((await rawRequest(server.url, 'PUT', `${A}/${encoded}`, { body: 'ok', headers: { 'content-length': '2' } })).status, 200);
      const got = await server.fetch(`${A}/${encoded}`);
      assert.equal(await got.text(), 'ok');
      assert.match(got.headers.get('content-disposition') ?? '', /filename\*=UTF-8''r%C3%A9sum%C3%A9%20final\.txt/);
      const list = await server.json('GET', `${A}?path=uni`);
      assert.deepEqual(list.body.files, [{ path: 'r\u00e9sum\u00e9 final.txt', is_dir: false, file_size: 2 }]);
    });

    it('lists direct children as MLflow does: base names, directories without size', async () => {
      await put('tree/a.txt', '1');
      await put('tree/sub/b.txt', '22');
      await put('tree/sub/deeper/c.txt', '333');
      const root = await server.json('GET', `${A}?path=tree`);
      assert.equal(root.status, 200);
      assert.deepEqual(root.body, { files: [{ path: 'a.txt', is_dir: false, file_size: 1 }, { path: 'sub', is_dir: true }] });
      const sub = await server.json('GET', `${A}?path=tree/sub`);
      assert.deepEqual(sub.body.files, [{ path: 'b.txt', is_dir: false, file_size: 2 }, { path: 'deeper', is_dir: true }]);
      const trailing = await server.json('GET', `${A}?path=tree/sub/`);
      assert.deepEqual(trailing.body.files, sub.body.files);
      const missing = await server.json('GET', `${A}?path=no/such/dir`);
      assert.deepEqual(missing.body, { files: [] });
      const top = await server.json('GET', A);
      assert.equal(top.status, 200);
      assert.ok(top.body.files.some((f: { path: string; is_dir: boolean }) => f.path === 'tree' && f.is_dir));
      assert.ok(!top.body.files.some((f: { path: string }) => f.path.startsWith('.')), 'internal folders are not listed');
    });

    it('deletes a file, then a whole directory; deleting nothing succeeds', async () => {
      await put('del/one.txt', '1');
      await put('del/dir/two.txt', '2');
      await put('del/dir/sub/three.txt', '3');
      assert.equal((await server.json('DELETE', `${A}/del/one.txt`)).status, 200);
      assert.equal((await server.fetch(`${A}/del/one.txt`)).status, 404);
      assert.equal((await server.json('DELETE', `${A}/del/dir`)).status, 200);
      assert.deepEqual((await server.json('GET', `${A}?path=del`)).body, { files: [] });
      assert.equal((await server.json('DELETE', `${A}/del/never-was`)).status, 200);
    });

    it('answers a missing artifact with 404 RESOURCE_DOES_NOT_EXIST, and a directory too', async () => {
      await put('dl/inner/file.txt', 'x');
      for (const path of ['dl/missing.txt', 'dl/inner']) {
        const got = await server.json('GET', `${A}/${path}`);
        assert.equal(got.status, 404);
        assert.equal(got.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
        assert.match(got.body.message, new RegExp(path));
      }
    });

    it('refuses an upload over the limit with 413, declared or streamed, and keeps nothing', async () => {
      const big = Buffer.alloc(MAX + 1, 7);
      const declared = await put('limit/declared.bin', big);
      assert.equal(declared.status, 413);
      assert.equal(JSON.parse(declared.body).error_code, 'INVALID_PARAMETER_VALUE');
      const streamed = await rawRequest(server.url, 'PUT', `${A}/limit/streamed.bin`, { body: big, headers: { 'transfer-encoding': 'chunked' } });
      assert.equal(streamed.status, 413);
      const exact = await put('limit/exact.bin', Buffer.alloc(MAX, 1));
      assert.equal(exact.status, 200);
      const list = await server.json('GET', `${A}?path=limit`);
      assert.deepEqual(list.body.files, [{ path: 'exact.bin', is_dir: false, file_size: MAX }]);
      assert.equal(await server.blobs.stat('limit/declared.bin'), undefined);
    });

    it('keeps content-addressed storage out of reach of artifact writes', async () => {
      for (const path of ['cas/ab/x', 'staging/x']) {
        const written = await put(path, 'evil');
        assert.equal(written.status, 400);
        assert.equal(JSON.parse(written.body).error_code, 'INVALID_PARAMETER_VALUE');
        const deleted = await server.json('DELETE', `${A}/${path}`);
        assert.equal(deleted.status, 400);
      }
      assert.equal(await server.blobs.stat('cas/ab/x'), undefined);
    });

    it('rejects a list query with a repeated or malformed path', async () => {
      const repeated = await server.json('GET', `${A}?path=a&path=b`);
      assert.equal(repeated.status, 400);
      assert.equal(repeated.body.error_code, 'INVALID_PARAMETER_VALUE');
      assert.match(repeated.body.message, /path/);
      const malformed = await rawRequest(server.url, 'GET', `${A}?path=%E0%A4%A`);
      assert.equal(malformed.status, 400);
    });

    it('lists a run\u2019s artifacts with run-relative paths under its artifact_uri', async () => {
      const experiment = await server.json('POST', '/api/2.0/mlflow/experiments/create', { name: `artifacts-${backend.name}` });
      assert.equal(experiment.status, 200, JSON.stringify(experiment.body));
      const created = await server.json('POST', '/api/2.0/mlflow/runs/create', { experiment_id: experiment.body.experiment_id });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const run = created.body.run.info;
      assert.match(run.artifact_uri, /^mlflow-artifacts:\//);
      const prefix = run.artifact_uri.slice('mlflow-artifacts:/'.length);
      await put(`${prefix}/model/MLmodel`, 'flavors: {}');
      await put(`${prefix}/model/model.onnx`, 'onnx!');
      await put(`${prefix}/metrics.json`, '{}');

      const top = await server.json('GET', `/api/2.0/mlflow/artifacts/list?run_id=${run.run_id}`);
      assert.equal(top.status, 200);
      assert.deepEqual(top.body, {
        root_uri: run.artifact_uri,
        files: [
          { path: 'metrics.json', is_dir: false, file_size: 2 },
          { path: 'model', is_dir: true },
        ],
      });
      const model = await server.json('GET', `/api/2.0/mlflow/artifacts/list?run_id=${run.run_id}&path=model`);
      assert.deepEqual(model.body.files, [
        { path: 'model/MLmodel', is_dir: false, file_size: 11 },
        { path: 'model/model.onnx', is_dir: false, file_size: 5 },
      ]);
      const old = await server.json('GET', `/api/2.0/mlflow/artifacts/list?run_uuid=${run.run_id}&path=model`);
      assert.deepEqual(old.body.files, model.body.files);
      const empty = await server.json('GET', `/api/2.0/mlflow/artifacts/list?run_id=${run.run_id}&path=nothing`);
      assert.deepEqual(empty.body, { root_uri: run.artifact_uri, files: [] });
    });

    it('answers artifacts/list without run_id with 400 naming it, and an unknown run with 404', async () => {
      const missing = await server.json('GET', '/api/2.0/mlflow/artifacts/list');
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error_code, 'INVALID_PARAMETER_VALUE');
      assert.match(missing.body.message, /run_id/);
      const unknown = await server.json('GET', `/api/2.0/mlflow/artifacts/list?run_id=${'0'.repeat(32)}`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
    });
  });
}
