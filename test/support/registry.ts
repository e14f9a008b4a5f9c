/** Helpers of the registry tests: MLflow calls that must succeed, and runs created over HTTP. */
import assert from 'node:assert/strict';
import type { TestServer } from './server.ts';

/** Calls `/api/2.0/mlflow/<path>` and asserts a 200; returns the body. */
export async function mlflowOk(server: TestServer, method: string, path: string, body?: unknown): Promise<any> {
  const response = await server.json(method, `/api/2.0/mlflow/${path}`, body);
  assert.equal(response.status, 200, `${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Calls `/api/2.0/mlflow/<path>` and asserts an MLflow error with `status` and `errorCode`; returns the body. */
export async function mlflowError(server: TestServer, method: string, path: string, body: unknown, status: number, errorCode: string): Promise<{ error_code: string; message: string }> {
  const response = await server.json(method, `/api/2.0/mlflow/${path}`, body);
  assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)}: ${response.status} ${JSON.stringify(response.body)}`);
  assert.equal(response.body.error_code, errorCode, JSON.stringify(response.body));
  return response.body;
}

/** A run created through the MLflow API, in a fresh experiment. */
export interface CreatedRun {
  readonly runId: string;
  readonly experimentId: string;
  readonly artifactUri: string;
}

let experiments = 0;

/** Creates an experiment and a run in it over HTTP. */
export async function createRun(server: TestServer): Promise<CreatedRun> {
  const experiment = await mlflowOk(server, 'POST', 'experiments/create', { name: `registry-test-${++experiments}-${Date.now()}` });
  const created = await mlflowOk(server, 'POST', 'runs/create', { experiment_id: experiment.experiment_id });
  return { runId: created.run.info.run_id, experimentId: experiment.experiment_id, artifactUri: created.run.info.artifact_uri };
}

/** Query string of `params` (arrays repeat the key). */
export function qs(params: Record<string, string | number | string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  return search.toString();
}
