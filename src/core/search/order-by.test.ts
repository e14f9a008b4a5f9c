// Cases follow MLflow's tests/utils/test_search_utils.py and the order_by tests of its SQL stores.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MloopError } from '../errors.ts';
import { parseOrderBy, parseOrderByClause, type OrderBy } from './order-by.ts';
import type { SearchKind } from './spec.ts';

function rejects(clause: string, kind: SearchKind, message: string): void {
  assert.throws(
    () => parseOrderByClause(clause, kind),
    (error: unknown) => {
      assert.ok(error instanceof MloopError, `expected MloopError for ${clause}`);
      assert.equal(error.code, 'INVALID_PARAMETER_VALUE');
      assert.equal(error.fields[0]?.field, 'order_by');
      assert.ok(error.message.includes(message), `${clause}: "${error.message}" lacks "${message}"`);
      return true;
    },
  );
}

function ob(entity: OrderBy['entity'], key: string, ascending: boolean): OrderBy {
  return { entity, key, ascending };
}

describe('parseOrderByClause: runs', () => {
  const valid: [string, OrderBy][] = [
    ['metrics.rmse', ob('metric', 'rmse', true)],
    ['metrics.rmse DESC', ob('metric', 'rmse', false)],
    ['metrics.key1 asc', ob('metric', 'key1', true)],
    ['metrics."key1"  desc', ob('metric', 'key1', false)],
    ['metrics.`Mean Square Error`', ob('metric', 'Mean Square Error', true)],
    ['metrics.`Mean Square Error` ASC', ob('metric', 'Mean Square Error', true)],
    ['metrics.`Mean Square Error` DESC', ob('metric', 'Mean Square Error', false)],
    ['params.my_param', ob('param', 'my_param', true)],
    ['params.my_param aSc', ob('param', 'my_param', true)],
    ['params.`my_param` DESC', ob('param', 'my_param', false)],
    ['parameter.lr DeSc', ob('param', 'lr', false)],
    ['tags.noSuchTag', ob('tag', 'noSuchTag', true)],
    ['tags.tag1    DESC', ob('tag', 'tag1', false)],
    ['tags.`mlflow.user`', ob('tag', 'mlflow.user', true)],
    ['tags.mlflow.user desc', ob('tag', 'mlflow.user', false)],
    ['attributes.status', ob('attribute', 'status', true)],
    ['attributes.status   DESC', ob('attribute', 'status', false)],
    ['attributes.start_time ASC', ob('attribute', 'start_time', true)],
    ['attr.end_time', ob('attribute', 'end_time', true)],
    ['run.run_id', ob('attribute', 'run_id', true)],
    ['start_time DESC', ob('attribute', 'start_time', false)],
    ['run_name', ob('attribute', 'run_name', true)],
    ['user_id', ob('attribute', 'user_id', true)],
    ['artifact_uri', ob('attribute', 'artifact_uri', true)],
    ['created', ob('attribute', 'start_time', true)],
    ['Created DESC', ob('attribute', 'start_time', false)],
    ['  metrics.rmse   DESC  ', ob('metric', 'rmse', false)],
    ['\tmetrics.rmse\n', ob('metric', 'rmse', true)],
  ];
  for (const [clause, expected] of valid) {
    it(`parses ${JSON.stringify(clause)}`, () => assert.deepEqual(parseOrderByClause(clause, 'runs'), expected));
  }

  const invalid: [string, string][] = [
    ['m.acc', 'Invalid entity type'],
    ['acc', 'Invalid attribute key'],
    ['attri.x', 'Invalid entity type'],
    ['`metrics.A', 'Invalid order_by clause'],
    // MLflow reports "Invalid entity type" here; a backticked whole is one (unknown) attribute name to us.
    ['`metrics.A`', 'Invalid attribute key'],
    ['attribute.start', 'Invalid attribute key'],
    ['attribute.experiment_id', 'Invalid attribute key'],
    ['attribute.lifecycle_stage', 'Invalid attribute key'],
    // `run name` aliases are filter-only in MLflow.
    ['"Run name"', 'Invalid attribute key'],
    ['metrics.A != 1', 'Invalid order_by clause'],
    ['metrics.A DESC extra', 'Invalid order_by clause'],
    ['metrics.A DESC, metrics.B', 'Invalid order_by clause'],
    ['attribute.run_id ACS', 'Invalid ordering key'],
    ['attribute.run_id decs', 'Invalid ordering key'],
    ['datasets.name', "Invalid order_by entity 'dataset'"],
    ['', 'Invalid order_by clause'],
    ['   ', 'Invalid order_by clause'],
    ['1', 'Invalid order_by clause'],
    ['metrics.', 'Invalid order_by clause'],
  ];
  for (const [clause, message] of invalid) {
    it(`rejects ${JSON.stringify(clause)}`, () => rejects(clause, 'runs', message));
  }

  it('says what the ordering key must be', () => {
    rejects('attribute.run_id ACS', 'runs', "expected ASC or DESC, found 'ACS'");
  });
});

describe('parseOrderByClause: experiments', () => {
  const valid: [string, OrderBy][] = [
    ['name', ob('attribute', 'name', true)],
    ['name ASC', ob('attribute', 'name', true)],
    ['name DESC', ob('attribute', 'name', false)],
    ['experiment_id DESC', ob('attribute', 'experiment_id', false)],
    ['attribute.creation_time', ob('attribute', 'creation_time', true)],
    ['last_update_time desc', ob('attribute', 'last_update_time', false)],
  ];
  for (const [clause, expected] of valid) {
    it(`parses ${JSON.stringify(clause)}`, () => assert.deepEqual(parseOrderByClause(clause, 'experiments'), expected));
  }

  const invalid: [string, string][] = [
    ['tags.x', "Invalid order_by entity 'tag' in experiment search"],
    ['attributes.name', "Invalid entity type 'attributes'"],
    ['metrics.x', "Invalid entity type 'metrics'"],
    ['lifecycle_stage', 'Invalid attribute key'],
    ['creation_timestamp', 'Invalid attribute key'],
  ];
  for (const [clause, message] of invalid) {
    it(`rejects ${JSON.stringify(clause)}`, () => rejects(clause, 'experiments', message));
  }
});

describe('parseOrderByClause: registered models', () => {
  const valid: [string, OrderBy][] = [
    ['name', ob('attribute', 'name', true)],
    ['name DESC', ob('attribute', 'name', false)],
    ['timestamp', ob('attribute', 'last_updated_timestamp', true)],
    ['timestamp DESC', ob('attribute', 'last_updated_timestamp', false)],
    ['last_updated_timestamp DESC', ob('attribute', 'last_updated_timestamp', false)],
  ];
  for (const [clause, expected] of valid) {
    it(`parses ${JSON.stringify(clause)}`, () =>
      assert.deepEqual(parseOrderByClause(clause, 'registered_models'), expected));
  }

  const invalid: [string, string][] = [
    ['creation_timestamp DESC', 'Invalid attribute key'],
    ['last_updated_timestamp DESC blah', 'Invalid order_by clause'],
    ['', 'Invalid order_by clause'],
    ['timestamp somerandomstuff ASC', 'Invalid ordering key'],
    ['timestamp somerandomstuff', 'Invalid ordering key'],
    ['timestamp decs', 'Invalid ordering key'],
    ['timestamp ACS', 'Invalid ordering key'],
    ['name aCs', 'Invalid ordering key'],
    ['tags.k', "Invalid order_by entity 'tag'"],
  ];
  for (const [clause, message] of invalid) {
    it(`rejects ${JSON.stringify(clause)}`, () => rejects(clause, 'registered_models', message));
  }
});

describe('parseOrderByClause: model versions', () => {
  const valid: [string, OrderBy][] = [
    ['name', ob('attribute', 'name', true)],
    ['version_number DESC', ob('attribute', 'version_number', false)],
    ['creation_timestamp', ob('attribute', 'creation_timestamp', true)],
    ['attribute.last_updated_timestamp asc', ob('attribute', 'last_updated_timestamp', true)],
  ];
  for (const [clause, expected] of valid) {
    it(`parses ${JSON.stringify(clause)}`, () => assert.deepEqual(parseOrderByClause(clause, 'model_versions'), expected));
  }

  const invalid: [string, string][] = [
    ['run_id', 'Invalid attribute key'],
    ['source_path DESC', 'Invalid attribute key'],
    ['tags.k', "Invalid order_by entity 'tag'"],
    ['timestamp', 'Invalid attribute key'],
  ];
  for (const [clause, message] of invalid) {
    it(`rejects ${JSON.stringify(clause)}`, () => rejects(clause, 'model_versions', message));
  }
});

describe('parseOrderBy', () => {
  it('parses a list in order and treats an absent list as empty', () => {
    assert.deepEqual(parseOrderBy(['params.my_param DESC', 'attributes.status ASC'], 'runs'), [
      ob('param', 'my_param', false),
      ob('attribute', 'status', true),
    ]);
    assert.deepEqual(parseOrderBy(undefined, 'runs'), []);
    assert.deepEqual(parseOrderBy(null, 'runs'), []);
    assert.deepEqual(parseOrderBy([], 'experiments'), []);
  });

  it('names the failing item by its index', () => {
    assert.throws(
      () => parseOrderBy(['name', 'name aCs'], 'registered_models'),
      (error: unknown) =>
        error instanceof MloopError &&
        error.fields[0]?.field === 'order_by[1]' &&
        error.message.startsWith('order_by[1]: Invalid ordering key'),
    );
  });

  it('rejects the same column twice, aliases included', () => {
    const duplicates: [string[], SearchKind][] = [
      [['params.x', 'param.x DESC'], 'runs'],
      [['created', 'attributes.start_time DESC'], 'runs'],
      [['metrics.`a b`', 'metrics."a b"'], 'runs'],
      [['timestamp', 'last_updated_timestamp DESC'], 'registered_models'],
      [['name', 'name DESC'], 'experiments'],
    ];
    for (const [clauses, kind] of duplicates) {
      assert.throws(
        () => parseOrderBy(clauses, kind),
        (error: unknown) =>
          error instanceof MloopError &&
          error.code === 'INVALID_PARAMETER_VALUE' &&
          error.message.includes('`order_by` contains duplicate fields'),
        clauses.join(', '),
      );
    }
  });

  it('allows the same key on different entities', () => {
    assert.deepEqual(parseOrderBy(['metrics.x', 'params.x', 'tags.x'], 'runs'), [
      ob('metric', 'x', true),
      ob('param', 'x', true),
      ob('tag', 'x', true),
    ]);
  });
});
