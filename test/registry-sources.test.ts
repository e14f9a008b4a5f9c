/**
 * Model version sources, on every metadata backend. A source must resolve inside the artifact root:
 * `runs:/<run_id>/<path>` of an existing run, or an `mlflow-artifacts:` URI — inside the run's own
 * artifact directory when `run_id` is given (MLflow's `_validate_source`). Everything MLflow's CVE
 * history abused (CVE-2023-1177 local and `file:` sources, CVE-2023-2780 `..` and its encodings,
 * CVE-2023-6909 / -6977 / CVE-2024-1483 `#` and `?` hiding a traversal, CVE-2024-1558 traversal
 * behind a run prefix, CVE-2024-3573 schemeless, UNC and Windows paths) is refused at creation
 * with INVALID_PARAMETER_VALUE naming `source`, and nothing is written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metadataBackends } from './support/backends.ts';
import { createRun, mlflowError, mlflowOk, type CreatedRun } from './support/registry.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const backend of metadataBackends()) {
  describe(`registry: model version sources (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let run: CreatedRun;
    let other: CreatedRun;
    let runKey: string;
    before(async () => {
      server = await startTestServer({ metadata: backend });
      run = await createRun(server);
      other = await createRun(server);
      runKey = run.artifactUri.slice('mlflow-artifacts:/'.length);
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'src' });
    });
    after(() => server?.close());

    /** Asserts `source` (with `run_id` when given) is refused with 400 naming `source`. */
    async function refused(source: string, runId?: string): Promise<void> {
      const body = runId === undefined ? { name: 'src', source } : { name: 'src', source, run_id: runId };
      const error = await mlflowError(server, 'POST', 'model-versions/create', body, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(error.message, /source|run_id/, `${source}: ${error.message}`);
    }

    const check = (sources: (run: CreatedRun) => string[]) => async () => {
      for (const source of sources(run)) {
        await refused(source);
        await refused(source, run.runId);
      }
    };

    it('refuses file: URIs (CVE-2023-1177)', check(() => [
      'file:///etc',
      'file:///etc/passwd',
      'FILE:///etc/passwd',
      'file://localhost/etc/passwd',
      'file:/etc/passwd',
      'file:etc/passwd',
      'file%3A%2F%2F%2Fetc%2Fpasswd',
    ]));

    it('refuses absolute and relative local paths without a scheme', check(() => ['/etc/passwd', '/', 'etc/passwd', './model', '../model', 'model']));

    it('refuses http, https and other remote schemes', check(() => [
      'http://evil.example/model',
      'https://evil.example/model',
      'https://localhost:5000/api/2.0/mlflow-artifacts/artifacts/../../../etc',
      's3://other-bucket/models/m',
      'gs://bucket/m',
      'hdfs://namenode/m',
      'ftp://host/m',
      'dbfs:/databricks/m',
      'models:/other/1',
      'javascript:alert(1)',
    ]));

    it('refuses "#" and "?" that hide a traversal (CVE-2023-6909, CVE-2023-6977, CVE-2024-1483)', check((r) => [
      'http://127.0.0.1:5000/#/../../../../etc/passwd',
      'http://127.0.0.1:5000/?/../../../../etc/passwd',
      `runs:/${r.runId}/model#/../../../..`,
      `runs:/${r.runId}/model?/../../..`,
      `runs:/${r.runId}/model%23/../..`,
      `mlflow-artifacts:/${runKeyOf(r)}/model#/../../..`,
      `mlflow-artifacts:/${runKeyOf(r)}/model?x=/../..`,
    ]));

    it('refuses UNC paths and "//" prefixes (CVE-2024-3573)', check(() => [
      '//proc/self/environ',
      '//proc/self/root/etc/passwd',
      '//server/share/model',
      '\\\\server\\share\\model',
      '%2F%2Fproc%2Fself%2Fenviron',
    ]));

    it('refuses an empty scheme and Windows drive paths', check(() => [':/x', ':x', '://x', 'C:\\Windows\\System32', 'C:/Windows/System32', 'c:model']));

    it('refuses ".." in runs:/ sources, in every encoding (CVE-2023-2780, CVE-2024-1558)', check((r) => [
      `runs:/${r.runId}/../../x`,
      `runs:/${r.runId}/model/../../../..`,
      `runs:/${r.runId}/..`,
      'runs:/../etc/passwd',
      `runs://${r.runId}/model`,
      `runs:${r.runId}/model`,
      `runs:/${r.runId}/%2e%2e/%2e%2e/x`,
      `runs:/${r.runId}/%2E%2E%2F%2E%2E%2Fx`,
      `runs:/${r.runId}/%252e%252e/x`,
      `runs:/${r.runId}/%25252e%25252e%25252fx`,
      `runs:/${r.runId}/a%5c..%5c..%5cx`,
      `runs:/${r.runId}/a\\..\\..\\x`,
      `runs:/${r.runId}/a%00b`,
      `runs:/${r.runId}//etc/passwd`,
      `runs:/${r.runId}/C:/x`,
    ]));

    it('refuses ".." in mlflow-artifacts: sources, in every encoding', check((r) => [
      'mlflow-artifacts:/../x',
      'mlflow-artifacts:/%2e%2e/x',
      'mlflow-artifacts:/%252E%252E/x',
      'mlflow-artifacts:/..%2f..%2fetc%2fpasswd',
      'mlflow-artifacts://localhost:5000/../../etc/passwd',
      'mlflow-artifacts://localhost:5000/..%2f..%2f..%2f',
      `mlflow-artifacts:/${runKeyOf(r)}/../../../etc`,
      `mlflow-artifacts:/${runKeyOf(r)}/model/%2e%2e/%2e%2e/%2e%2e/%2e%2e`,
      'mlflow-artifacts:x',
      'mlflow-artifacts:',
      'mlflow-artifacts://evil host/x',
      'mlflow-artifacts:/a%00',
      'mlflow-artifacts:/a\\b',
    ]));

    it('refuses an empty or missing source naming the field', async () => {
      const empty = await mlflowError(server, 'POST', 'model-versions/create', { name: 'src', source: '' }, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(empty.message, /Missing value for required parameter 'source'/);
      const missing = await mlflowError(server, 'POST', 'model-versions/create', { name: 'src' }, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(missing.message, /source/);
      await mlflowError(server, 'POST', 'model-versions/create', { name: 'src', source: 42 }, 400, 'INVALID_PARAMETER_VALUE');
    });

    it('requires the run of a runs:/ source to exist, and to match run_id when both are given', async () => {
      const unknown = 'f'.repeat(32);
      const missing = await mlflowError(server, 'POST', 'model-versions/create', { name: 'src', source: `runs:/${unknown}/model` }, 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.match(missing.message, new RegExp(unknown));
      const mismatch = await mlflowError(
        server,
        'POST',
        'model-versions/create',
        { name: 'src', source: `runs:/${run.runId}/model`, run_id: other.runId },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      assert.match(mismatch.message, /run_id/);
      await mlflowError(server, 'POST', 'model-versions/create', { name: 'src', source: `runs:/not a run/model` }, 400, 'INVALID_PARAMETER_VALUE');
    });

    it('requires an mlflow-artifacts: source with run_id to lie inside that run’s artifact directory', async () => {
      const otherKey = runKeyOf(other);
      for (const source of [
        `mlflow-artifacts:/${otherKey}/model`,
        `mlflow-artifacts:/${runKey}-evil/model`,
        `mlflow-artifacts:/${runKey.split('/').slice(0, -1).join('/')}`,
        'mlflow-artifacts:/',
        'mlflow-artifacts:/cas/ab/something',
      ]) {
        const error = await mlflowError(server, 'POST', 'model-versions/create', { name: 'src', source, run_id: run.runId }, 400, 'INVALID_PARAMETER_VALUE');
        assert.match(error.message, /artifact directory of that run/, source);
      }
      await mlflowError(
        server,
        'POST',
        'model-versions/create',
        { name: 'src', source: `mlflow-artifacts:/${runKey}/model`, run_id: 'e'.repeat(32) },
        404,
        'RESOURCE_DOES_NOT_EXIST',
      );
    });

    it('wrote nothing for any refused source; sound sources still register from version 1', async () => {
      const versions = await mlflowOk(server, 'GET', `model-versions/search?filter=${encodeURIComponent("name = 'src'")}`);
      assert.deepEqual(versions.model_versions, []);
      const accepted: [string, string | undefined, string][] = [
        [`runs:/${run.runId}/model`, run.runId, `${run.artifactUri}/model`],
        [`runs:/${run.runId}`, undefined, run.artifactUri],
        [`runs:/${run.runId}/deep/er%20path/model`, undefined, `${run.artifactUri}/deep/er path/model`],
        [`${run.artifactUri}/model`, run.runId, `${run.artifactUri}/model`],
        [run.artifactUri, run.runId, run.artifactUri],
        [`mlflow-artifacts://localhost:5000/${runKey}/model`, run.runId, `${run.artifactUri}/model`],
        ['mlflow-artifacts:///etc/passwd', undefined, 'mlflow-artifacts:/etc/passwd'],
      ];
      for (const [i, [source, runId, location]] of accepted.entries()) {
        const created = await mlflowOk(server, 'POST', 'model-versions/create', { name: 'src', source, ...(runId ? { run_id: runId } : {}) });
        assert.equal(created.model_version.version, String(i + 1));
        assert.equal(created.model_version.source, source);
        assert.equal(created.model_version.storage_location, location);
      }
    });
  });
}

function runKeyOf(run: CreatedRun): string {
  return run.artifactUri.slice('mlflow-artifacts:/'.length);
}
