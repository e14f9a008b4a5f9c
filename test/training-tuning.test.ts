/**
 * Tuning jobs on breast_cancer: a tiny grid search logs every trial as a child run (tag
 * `mlflow.parentRunId`) with its params and cross-validated metrics (mean, std, per fold), picks the
 * best by the objective, refits it on all training rows and registers it with lineage. The per-fold ROC
 * AUC matches scikit-learn on the very same folds. Random search is seeded; successive halving keeps the
 * best 1/factor per rung; halving on iterations refits with the last rung's iteration budget.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { encodeProblemTarget, holdoutSplit, stratifiedKFold, subsetTable } from '../src/training/cv.ts';
import { readNumericCsv } from './support/training-data.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { runArtifact, uploadFixture, waitJob } from './support/training.ts';

async function childRuns(server: TestServer, parent: string): Promise<any[]> {
  const res = await server.json('POST', '/api/2.0/mlflow/runs/search', { experiment_ids: ['0', '1', '2', '3', '4'], filter: `tags.mlflow.parentRunId = '${parent}'`, max_results: 1000 });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.runs ?? [];
}

const asMap = (xs: { key: string; value: unknown }[]) => Object.fromEntries(xs.map((x) => [x.key, x.value]));

describe('tuning jobs', () => {
  let server: TestServer;
  let version: string;
  before(async () => {
    server = await startTestServer();
    version = await uploadFixture(server, 'bc', 'breast_cancer');
  });
  after(() => server?.close());

  it('grid search: child runs with CV metrics, the best refit and registered with lineage', async () => {
    const submitted = await server.json('POST', '/api/v1/training/tuning-jobs', {
      dataset: 'bc@latest',
      target: 'target',
      model: 'logistic_regression',
      search: { strategy: 'grid', space: { C: [0.01, 1] } },
      cv: { folds: 3 },
      register_as: 'bc-tuned',
      experiment: 'tuning',
      bootstrap: { n: 50 },
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const job = await waitJob(server, submitted.body.id);
    assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job.error));
    const r = job.result as any;
    assert.equal(r.objective, 'roc_auc');
    assert.equal(r.trials.length, 2);

    const children = await childRuns(server, r.run_id);
    assert.equal(children.length, 2);
    const byC = new Map<string, any>();
    for (const child of children) {
      const params = asMap(child.data.params);
      const metrics = asMap(child.data.metrics) as Record<string, number>;
      assert.equal(child.info.status, 'FINISHED');
      assert.equal(params.model_kind, 'logistic_regression');
      assert.equal(params['cv.folds'], '3');
      for (const key of ['cv_roc_auc_mean', 'cv_roc_auc_std', 'cv_roc_auc_pooled', 'cv_accuracy_mean', 'cv_log_loss_std']) assert.equal(typeof metrics[key], 'number', key);
      const history = (await server.json('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${child.info.run_id}&metric_key=cv_roc_auc`)).body.metrics;
      assert.deepEqual(history.map((m: { step: number }) => m.step), [0, 1, 2]);
      const values = history.map((m: { value: number }) => m.value);
      const mean = values.reduce((a: number, b: number) => a + b, 0) / 3;
      assert.ok(Math.abs(mean - metrics.cv_roc_auc_mean) < 1e-12);
      byC.set(params.C as string, { metrics, values });
    }

    // scikit-learn on the very same folds of the training rows.
    const table = readNumericCsv('breast_cancer');
    const problem = { target: 'target', task: 'classification' as const, features: table.columns.map((c) => c.name).filter((c) => c !== 'target') };
    const full = encodeProblemTarget(table, problem);
    const split = holdoutSplit(table.rows, { fraction: 0.2, seed: 0, stratify: full.values });
    const train = subsetTable(table, split.train);
    const folds = stratifiedKFold(encodeProblemTarget(train, problem).values, 3, { seed: 0 });
    const script = `
import json, sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
df = pd.read_csv(sys.argv[1]); rows = np.array(json.loads(sys.argv[2])); fold = np.array(json.loads(sys.argv[3]))
X = df.drop(columns='target').to_numpy(float)[rows]; y = df['target'].to_numpy()[rows]
out = {}
for C in (0.01, 1.0):
    out[str(C)] = [roc_auc_score(y[fold == k], make_pipeline(StandardScaler(), LogisticRegression(C=C, tol=1e-8, max_iter=1000)).fit(X[fold != k], y[fold != k]).predict_proba(X[fold == k])[:, 1]) for k in range(3)]
print(json.dumps(out))
`;
    const py = spawnSync('/usr/bin/python3', ['-c', script, new URL('fixtures/data/breast_cancer.csv', import.meta.url).pathname, JSON.stringify(Array.from(split.train)), JSON.stringify(Array.from(folds))], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const sk = JSON.parse(py.stdout) as Record<string, number[]>;
    for (const [c, key] of [['0.01', '0.01'], ['1', '1.0']]) {
      const ours = byC.get(c)!.values as number[];
      ours.forEach((v, k) => assert.ok(Math.abs(v - sk[key][k]) < 1e-3, `C=${c} fold ${k}: ${v} vs ${sk[key][k]}`));
    }

    // The best by mean CV ROC AUC, refit and registered.
    const best = [...byC.entries()].sort((a, b) => b[1].metrics.cv_roc_auc_mean - a[1].metrics.cv_roc_auc_mean)[0][0];
    assert.equal(String(r.best.params.C), best);
    const parent = (await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${r.run_id}`)).body.run;
    const pparams = asMap(parent.data.params);
    assert.equal(pparams['best.C'], best);
    assert.equal(pparams['search.strategy'], 'grid');
    const ptags = asMap(parent.data.tags);
    assert.equal(ptags['mloop.job_kind'], 'tuning');
    assert.ok(children.some((c) => c.info.run_id === ptags['mloop.best_trial_run_id']));
    assert.equal(typeof asMap(parent.data.metrics).holdout_roc_auc, 'number');
    assert.deepEqual(r.model_version, { name: 'bc-tuned', version: '1' });
    const mv = (await server.json('GET', '/api/v1/models/bc-tuned/versions/1')).body;
    assert.equal(mv.source, `runs:/${r.run_id}/model`);
    const tags = asMap(mv.tags);
    assert.deepEqual(JSON.parse(tags['mloop.datasets'] as string), [`bc@${version}`]);
    assert.equal(tags['mloop.params_hash'], r.params_hash);
    assert.equal(tags['mloop.seed'], '0');
    const dependents = (await server.json('GET', `/api/v1/datasets/bc/versions/${version}/dependents`)).body.dependents;
    assert.ok(dependents.some((d: { kind: string; id: string }) => d.kind === 'model_version' && d.id === 'bc-tuned/1'));
  });

  it('random search draws the same candidates for the same seed', async () => {
    const body = {
      dataset: 'bc@latest',
      target: 'target',
      model: 'hist_gradient_boosting',
      params: { max_iter: 10 },
      search: { strategy: 'random', n_trials: 3, seed: 5, space: { learning_rate: { distribution: 'loguniform', low: 0.01, high: 0.5 }, max_leaf_nodes: { distribution: 'int', low: 4, high: 16 } } },
      cv: { folds: 3 },
      bootstrap: { n: 0 },
    };
    const a = (await server.json('POST', '/api/v1/training/tuning-jobs?dry_run=true', body)).body.plan.search.candidates;
    const b = (await server.json('POST', '/api/v1/training/tuning-jobs?dry_run=true', body)).body.plan.search.candidates;
    assert.equal(a.length, 3);
    assert.deepEqual(a, b);
    for (const c of a) {
      assert.ok(c.learning_rate >= 0.01 && c.learning_rate <= 0.5);
      assert.ok(Number.isInteger(c.max_leaf_nodes) && c.max_leaf_nodes >= 4 && c.max_leaf_nodes <= 16);
      assert.equal(c.max_iter, 10);
    }
    const job = await waitJob(server, (await server.json('POST', '/api/v1/training/tuning-jobs', body)).body.id);
    assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job.error));
    assert.equal((await childRuns(server, (job.result as any).run_id)).length, 3);
  });

  it('successive halving: rungs of growing rows, the best 1/factor going on', async () => {
    const submitted = await server.json('POST', '/api/v1/training/tuning-jobs', {
      dataset: 'bc@latest',
      target: 'target',
      model: 'hist_gradient_boosting',
      params: { max_iter: 10 },
      search: { strategy: 'halving', factor: 2, space: { learning_rate: [0.02, 0.05, 0.1, 0.3] } },
      cv: { folds: 3 },
      bootstrap: { n: 0 },
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const rungs = submitted.body.spec.search.rungs as number[];
    assert.equal(rungs.length, 3);
    assert.ok(rungs[0] < rungs[1] && rungs[1] < rungs[2]);
    assert.equal(rungs[2], Math.floor((455 * 2) / 3));
    const job = await waitJob(server, submitted.body.id);
    assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job.error));
    const r = job.result as any;
    assert.deepEqual(r.trials.map((t: { rung: number }) => t.rung), [0, 0, 0, 0, 1, 1, 2]);
    assert.deepEqual(r.trials.map((t: { resource: number }) => t.resource), [rungs[0], rungs[0], rungs[0], rungs[0], rungs[1], rungs[1], rungs[2]]);
    // The two best of rung 0 go on; the last rung's trial is the best.
    const rung0 = r.trials.filter((t: { rung: number }) => t.rung === 0).sort((a: { score: number }, b: { score: number }) => b.score - a.score);
    const rung1 = r.trials.filter((t: { rung: number }) => t.rung === 1);
    assert.deepEqual(rung1.map((t: { params: { learning_rate: number } }) => t.params.learning_rate).sort(), rung0.slice(0, 2).map((t: { params: { learning_rate: number } }) => t.params.learning_rate).sort());
    assert.equal(r.best.params.learning_rate, r.trials[6].params.learning_rate);
    const children = await childRuns(server, r.run_id);
    assert.equal(children.length, 7);
    assert.ok(children.every((c) => asMap(c.data.params)['halving.rows'] !== undefined));
  });

  it('successive halving on iterations refits with the iteration budget of the last rung, and best.* records it', async () => {
    // min_resource 2, factor 2, 4 candidates: rungs of 2, 4 and 8 iterations, while the candidates say max_iter 40.
    const submitted = await server.json('POST', '/api/v1/training/tuning-jobs', {
      dataset: 'bc@latest',
      target: 'target',
      model: 'hist_gradient_boosting',
      params: { max_iter: 40, early_stopping: false },
      search: { strategy: 'halving', factor: 2, resource: 'iterations', min_resource: 2, max_resource: 40, space: { learning_rate: [0.05, 0.1, 0.2, 0.3] } },
      cv: { folds: 3 },
      bootstrap: { n: 0 },
    });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.deepEqual(submitted.body.spec.search.rungs, [2, 4, 8]);
    const job = await waitJob(server, submitted.body.id);
    assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job.error));
    const r = job.result as any;
    const last = r.trials.at(-1);
    assert.equal(last.resource, 8);
    assert.equal(last.params.max_iter, 8);
    assert.equal(r.best.params.max_iter, 8);
    assert.equal(r.best.params.learning_rate, last.params.learning_rate);
    const parent = (await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${r.run_id}`)).body.run;
    const params = asMap(parent.data.params);
    assert.equal(params['best.max_iter'], '8');
    const state = JSON.parse((await runArtifact(server, r.run_id, 'model/pipeline.json')).toString());
    assert.equal(state.model.trees.length, 8, 'the refit model has the trees of the last rung');
  });
});
