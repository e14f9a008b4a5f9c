/** Helpers of the training and evaluation tests: fixture uploads, waiting for jobs, reading run artifacts. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Job } from '../../src/jobs/domain.ts';
import { uploadDataset } from './data.ts';
import type { TestServer } from './server.ts';

const DATA = new URL('../fixtures/data/', import.meta.url);

/** Uploads `test/fixtures/data/<file>.csv` as dataset `name` (with an optional declared schema); returns the version. */
export async function uploadFixture(server: TestServer, name: string, file: 'breast_cancer' | 'wine' | 'diabetes', schema?: unknown): Promise<string> {
  const res = await uploadDataset(server, name, readFileSync(new URL(`${file}.csv`, DATA)), schema ? { query: { schema: JSON.stringify(schema) } } : {});
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body.version.version as string;
}

/** Uploads CSV text as dataset `name`; returns the version. */
export async function uploadCsv(server: TestServer, name: string, csv: string, schema?: unknown): Promise<string> {
  const res = await uploadDataset(server, name, csv, schema ? { query: { schema: JSON.stringify(schema) } } : {});
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body.version.version as string;
}

/** Polls `/api/v1/jobs/:id` until the job is final; returns it. */
export async function waitJob(server: TestServer, id: string, timeoutMs = 120_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await server.json('GET', `/api/v1/jobs/${id}`);
    assert.equal(status, 200, JSON.stringify(body));
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(body.status)) return body as Job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${body.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Submits a training request and waits for it; asserts it succeeded. */
export async function train(server: TestServer, body: Record<string, unknown>): Promise<Job & { result: any }> {
  const submitted = await server.json('POST', '/api/v1/training/jobs', body);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const job = await waitJob(server, submitted.body.id);
  assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job.error));
  return job as Job & { result: any };
}

/** The bytes of an artifact of a run, through the MLflow artifact API. */
export async function runArtifact(server: TestServer, runId: string, path: string): Promise<Buffer> {
  const run = await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  const root = String(run.body.run.info.artifact_uri).replace(/^mlflow-artifacts:\//, '');
  const response = await server.fetch(`/api/2.0/mlflow-artifacts/artifacts/${root}/${path}`);
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The bytes of a file in an `mlflow-artifacts:` folder (a model version's storage location). */
export async function artifactAt(server: TestServer, storageLocation: string, file: string): Promise<Buffer> {
  const root = storageLocation.replace(/^mlflow-artifacts:\//, '');
  const response = await server.fetch(`/api/2.0/mlflow-artifacts/artifacts/${root}/${file}`);
  assert.equal(response.status, 200, `${file}: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}
