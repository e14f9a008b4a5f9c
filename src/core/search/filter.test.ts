// Cases follow MLflow's tests/utils/test_search_utils.py and the search tests of its SQL stores.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MloopError } from '../errors.ts';
import { parseFilter, type Comparison } from './filter.ts';
import type { SearchKind } from './spec.ts';

function num(entity: Comparison['entity'], key: string, comparator: string, value: number): Comparison {
  return { entity, key, valueType: 'number', comparator, value } as Comparison;
}
function str(entity: Comparison['entity'], key: string, comparator: string, value: string): Comparison {
  return { entity, key, valueType: 'string', comparator, value } as Comparison;
}
function list(entity: Comparison['entity'], key: string, comparator: string, value: string[]): Comparison {
  return { entity, key, valueType: 'list', comparator, value } as Comparison;
}
function isNull(entity: Comparison['entity'], key: string, comparator: string): Comparison {
  return { entity, key, valueType: 'null', comparator, value: null } as Comparison;
}

function rejects(filter: string, kind: SearchKind, message: string | RegExp): void {
  assert.throws(
    () => parseFilter(filter, kind),
    (error: unknown) => {
      assert.ok(error instanceof MloopError, `expected MloopError for ${filter}`);
      assert.equal(error.code, 'INVALID_PARAMETER_VALUE');
      assert.equal(error.fields[0]?.field, 'filter');
      if (typeof message === 'string') {
        assert.ok(error.message.includes(message), `${filter}: "${error.message}" lacks "${message}"`);
      } else {
        assert.match(error.message, message);
      }
      return true;
    },
  );
}

describe('parseFilter: runs, valid filters', () => {
  const cases: [string, Comparison[]][] = [
    ['metric.acc >= 0.94', [num('metric', 'acc', '>=', 0.94)]],
    ['metric.acc>=100', [num('metric', 'acc', '>=', 100)]],
    ["params.m!='tf'", [str('param', 'm', '!=', 'tf')]],
    ['params."m"!="tf"', [str('param', 'm', '!=', 'tf')]],
    ['metric."legit name" >= 0.243', [num('metric', 'legit name', '>=', 0.243)]],
    ['metrics.XYZ = 3', [num('metric', 'XYZ', '=', 3)]],
    ['params."cat dog" = "pets"', [str('param', 'cat dog', '=', 'pets')]],
    ['metrics."X-Y-Z" = 3', [num('metric', 'X-Y-Z', '=', 3)]],
    ['metrics."X//Y#$$@&Z" = 3', [num('metric', 'X//Y#$$@&Z', '=', 3)]],
    ["params.model = 'LinearRegression'", [str('param', 'model', '=', 'LinearRegression')]],
    [
      "metrics.rmse < 1 and params.model_class = 'LR'",
      [num('metric', 'rmse', '<', 1), str('param', 'model_class', '=', 'LR')],
    ],
    ['', []],
    ['`metric`.a >= 0.1', [num('metric', 'a', '>=', 0.1)]],
    ["tags.version = 'commit-hash'", [str('tag', 'version', '=', 'commit-hash')]],
    ["`tags`.source_name = 'a notebook'", [str('tag', 'source_name', '=', 'a notebook')]],
    ['metrics."accuracy.2.0" > 5', [num('metric', 'accuracy.2.0', '>', 5)]],
    ['metrics.`spacey name` > 5', [num('metric', 'spacey name', '>', 5)]],
    ['params."p.a.r.a.m" != "a"', [str('param', 'p.a.r.a.m', '!=', 'a')]],
    ['tags."t.a.g" = "a"', [str('tag', 't.a.g', '=', 'a')]],
    ["attribute.artifact_uri = '1/23/4'", [str('attribute', 'artifact_uri', '=', '1/23/4')]],
    ['attribute.start_time >= 1234', [num('attribute', 'start_time', '>=', 1234)]],
    ["run.status = 'RUNNING'", [str('attribute', 'status', '=', 'RUNNING')]],
    ["dataset.name = 'my_dataset'", [str('dataset', 'name', '=', 'my_dataset')]],
    ['tags.version IS NULL', [isNull('tag', 'version', 'IS NULL')]],
    ['tags.version IS NOT NULL', [isNull('tag', 'version', 'IS NOT NULL')]],
    ['params.lr IS NULL', [isNull('param', 'lr', 'IS NULL')]],
    ['params.lr IS NOT NULL', [isNull('param', 'lr', 'IS NOT NULL')]],
    ["tags.a IS NULL AND params.b = 'val'", [isNull('tag', 'a', 'IS NULL'), str('param', 'b', '=', 'val')]],
  ];
  for (const [filter, expected] of cases) {
    it(`parses ${JSON.stringify(filter)}`, () => assert.deepEqual(parseFilter(filter, 'runs'), expected));
  }

  it('treats an absent or blank filter as no comparisons', () => {
    assert.deepEqual(parseFilter(undefined, 'runs'), []);
    assert.deepEqual(parseFilter(null, 'runs'), []);
    assert.deepEqual(parseFilter('  \t\n ', 'runs'), []);
  });

  it('reads every entity spelling MLflow accepts', () => {
    const spellings: [string, Comparison['entity']][] = [
      ['metric', 'metric'],
      ['metrics', 'metric'],
      ['parameter', 'param'],
      ['parameters', 'param'],
      ['param', 'param'],
      ['params', 'param'],
      ['tag', 'tag'],
      ['tags', 'tag'],
      ['dataset', 'dataset'],
      ['datasets', 'dataset'],
    ];
    for (const [prefix, entity] of spellings) {
      const [c] = parseFilter(`${prefix}.name = ${entity === 'metric' ? '1' : "'x'"}`, 'runs');
      assert.equal(c.entity, entity, prefix);
      assert.equal(c.key, 'name');
    }
    for (const prefix of ['attribute', 'attributes', 'attr', 'run', '`attr`']) {
      assert.deepEqual(parseFilter(`${prefix}.status = 'FAILED'`, 'runs'), [str('attribute', 'status', '=', 'FAILED')]);
    }
    assert.deepEqual(parseFilter("status = 'FAILED'", 'runs'), [str('attribute', 'status', '=', 'FAILED')]);
  });

  it('upper-cases keywords written in any case', () => {
    const filter =
      "metrics.a > 1 and params.b like 'x%' AnD tags.c ILike '%y' aND attributes.run_id in ('r1') " +
      "and attr.run_id not in ('r2') and tags.d is not null and params.e Is Null and datasets.name NoT In ('d')";
    assert.deepEqual(parseFilter(filter, 'runs'), [
      num('metric', 'a', '>', 1),
      str('param', 'b', 'LIKE', 'x%'),
      str('tag', 'c', 'ILIKE', '%y'),
      list('attribute', 'run_id', 'IN', ['r1']),
      list('attribute', 'run_id', 'NOT IN', ['r2']),
      isNull('tag', 'd', 'IS NOT NULL'),
      isNull('param', 'e', 'IS NULL'),
      list('dataset', 'name', 'NOT IN', ['d']),
    ]);
  });

  it('ignores whitespace around and between tokens, and needs none around operators', () => {
    const expected = [num('metric', 'a', '<=', 1), str('param', 'b', '=', 'c')];
    assert.deepEqual(parseFilter("metrics.a<=1 and params.b='c'", 'runs'), expected);
    assert.deepEqual(parseFilter("\n\tmetrics.a   <=\t1\n  AND\n params.b =   'c'  \n", 'runs'), expected);
    assert.deepEqual(parseFilter("metrics.a<=1 and params.b LIKE'c'", 'runs')[1], str('param', 'b', 'LIKE', 'c'));
  });

  it('reads numbers: integers, floats, signs and exponents', () => {
    const values: [string, number][] = [
      ['0', 0],
      ['42', 42],
      ['-1', -1],
      ['+2', 2],
      ['3.25', 3.25],
      ['-0.5', -0.5],
      ['.5', 0.5],
      ['5.', 5],
      ['1e3', 1000],
      ['1E3', 1000],
      ['1.5e-3', 0.0015],
      ['-2.5E+2', -250],
      ['1700000000000', 1700000000000],
    ];
    for (const [text, value] of values) {
      assert.deepEqual(parseFilter(`metrics.m > ${text}`, 'runs'), [num('metric', 'm', '>', value)], text);
    }
  });

  it('keeps unquoted dotted keys whole after the entity', () => {
    assert.deepEqual(parseFilter("tags.mlflow.user = 'me'", 'runs'), [str('tag', 'mlflow.user', '=', 'me')]);
    assert.deepEqual(parseFilter('metrics.a.b.c < 2', 'runs'), [num('metric', 'a.b.c', '<', 2)]);
    assert.deepEqual(parseFilter('metrics.2019_rmse < 2', 'runs'), [num('metric', '2019_rmse', '<', 2)]);
    assert.deepEqual(parseFilter("tags.`mlflow.parentRunId` = 'p'", 'runs'), [
      str('tag', 'mlflow.parentRunId', '=', 'p'),
    ]);
  });

  it('maps attribute aliases to their canonical keys', () => {
    assert.deepEqual(parseFilter('created > 5', 'runs'), [num('attribute', 'start_time', '>', 5)]);
    assert.deepEqual(parseFilter('attributes.Created <= 5', 'runs'), [num('attribute', 'start_time', '<=', 5)]);
    assert.deepEqual(parseFilter(`"Run Name" = 'x'`, 'runs'), [str('attribute', 'run_name', '=', 'x')]);
    assert.deepEqual(parseFilter("attributes.`run name` LIKE 'x%'", 'runs'), [str('attribute', 'run_name', 'LIKE', 'x%')]);
    assert.deepEqual(parseFilter("attributes.\"Run name\" != 'x'", 'runs'), [str('attribute', 'run_name', '!=', 'x')]);
  });

  it('accepts every run attribute with its type', () => {
    const filter =
      "attributes.run_id = 'r' and attributes.run_name = 'n' and attributes.status != 'FAILED' and " +
      "attributes.user_id ILIKE 'u%' and attributes.artifact_uri LIKE 'mlflow-artifacts:/%' and " +
      'attributes.start_time >= 1 and attributes.end_time < 2';
    assert.deepEqual(parseFilter(filter, 'runs'), [
      str('attribute', 'run_id', '=', 'r'),
      str('attribute', 'run_name', '=', 'n'),
      str('attribute', 'status', '!=', 'FAILED'),
      str('attribute', 'user_id', 'ILIKE', 'u%'),
      str('attribute', 'artifact_uri', 'LIKE', 'mlflow-artifacts:/%'),
      num('attribute', 'start_time', '>=', 1),
      num('attribute', 'end_time', '<', 2),
    ]);
  });

  it('reads IN lists with either quote, spacing and a trailing comma', () => {
    assert.deepEqual(parseFilter(`attributes.run_id IN ('a',"b" ,  'c',)`, 'runs'), [
      list('attribute', 'run_id', 'IN', ['a', 'b', 'c']),
    ]);
    assert.deepEqual(parseFilter("run_id IN('a')", 'runs'), [list('attribute', 'run_id', 'IN', ['a'])]);
    assert.deepEqual(parseFilter("datasets.digest IN ('d1', 'd2') and datasets.context = 'train'", 'runs'), [
      list('dataset', 'digest', 'IN', ['d1', 'd2']),
      str('dataset', 'context', '=', 'train'),
    ]);
  });
});

describe('parseFilter: quoting of string values', () => {
  it('trims single and double quotes', () => {
    assert.deepEqual(parseFilter("params.m = 'LR'", 'runs'), [str('param', 'm', '=', 'LR')]);
    assert.deepEqual(parseFilter('params.m = "LR"', 'runs'), [str('param', 'm', '=', 'LR')]);
    assert.deepEqual(parseFilter(`params.m = "L'Hosp"`, 'runs'), [str('param', 'm', '=', "L'Hosp")]);
    assert.deepEqual(parseFilter(`params.m = 'say "hi"'`, 'runs'), [str('param', 'm', '=', 'say "hi"')]);
  });

  it('reads a doubled or backslashed quote as one quote and keeps other backslashes', () => {
    assert.deepEqual(parseFilter("params.m = 'it''s'", 'runs'), [str('param', 'm', '=', "it's")]);
    assert.deepEqual(parseFilter(`params.m = "a""b"`, 'runs'), [str('param', 'm', '=', 'a"b')]);
    assert.deepEqual(parseFilter("params.m = 'L\\'Hosp'", 'runs'), [str('param', 'm', '=', "L'Hosp")]);
    assert.deepEqual(parseFilter("params.m LIKE 'a\\_b%'", 'runs'), [str('param', 'm', 'LIKE', 'a\\_b%')]);
    assert.deepEqual(parseFilter('tags.`a``b` = \'x\'', 'runs'), [str('tag', 'a`b', '=', 'x')]);
  });

  it('keeps keywords, operators and unicode inside quotes as text', () => {
    assert.deepEqual(parseFilter("params.m = 'a AND b OR c; d = (e)' and tags.t = 'ünï ✓'", 'runs'), [
      str('param', 'm', '=', 'a AND b OR c; d = (e)'),
      str('tag', 't', '=', 'ünï ✓'),
    ]);
  });

  it('allows an empty string value', () => {
    assert.deepEqual(parseFilter("tags.t = ''", 'runs'), [str('tag', 't', '=', '')]);
  });
});

describe('parseFilter: runs, invalid filters', () => {
  const cases: [string, string][] = [
    ['metric.acc >= 0.94; metrics.rmse < 1', 'Search filter contained multiple expression'],
    ['m.acc >= 0.94', 'Invalid entity type'],
    ['acc >= 0.94', 'Invalid attribute key'],
    ["p.model >= 'LR'", 'Invalid entity type'],
    ['attri.x != 1', 'Invalid entity type'],
    ['a.x != 1', 'Invalid entity type'],
    ['Metrics.x > 1', 'Invalid entity type'],
    ['"metrics".x > 1', 'Invalid entity type'],
    ["model >= 'LR'", 'Invalid attribute key'],
    ["metrics.A > 0.1 OR params.B = 'LR'", 'Invalid clause(s) in filter string'],
    ["metrics.A > 0.1 NAND params.B = 'LR'", 'Invalid clause(s) in filter string'],
    ["metrics.A > 0.1 AND (params.B = 'LR')", 'Invalid clause(s) in filter string'],
    ['`metrics.A > 0.1', 'Invalid clause(s) in filter string'],
    ['param`.A > 0.1', 'Invalid clause(s) in filter string'],
    ['`dummy.A > 0.1', 'Invalid clause(s) in filter string'],
    ['dummy`.A > 0.1', 'Invalid clause(s) in filter string'],
    ['attribute.start != 1', 'Invalid attribute key'],
    ['attribute.experiment_id != 1', 'Invalid attribute key'],
    ["attribute.lifecycle_stage = 'ACTIVE'", 'Invalid attribute key'],
    ['attribute.name != 1', 'Invalid attribute key'],
    ['attribute.time != 1', 'Invalid attribute key'],
    ["attribute._status != 'RUNNING'", 'Invalid attribute key'],
    ["attribute.Status = 'RUNNING'", 'Invalid attribute key'],
    ['attribute.status = true', 'not quoted'],
    ["dataset.status = 'true'", 'Invalid dataset key'],
    ["dataset.profile = 'num_rows: 10'", 'Invalid dataset key'],
    ['metrics.acc IS NULL', 'IS NULL / IS NOT NULL is only supported for tags and params'],
    ['attribute.status IS NULL', 'IS NULL / IS NOT NULL is only supported for tags and params'],
    ["datasets.name IS NOT NULL", 'IS NULL / IS NOT NULL is only supported for tags and params'],
    // comparison clauses
    ["metric.model = 'LR'", 'Expected numeric value type for metric'],
    ["metric.model = '5'", 'Expected numeric value type for metric'],
    ['params.acc = 5', 'Expected a quoted string value for param'],
    ['tags.acc = 5', 'Expected a quoted string value for tag'],
    ['metrics.acc != metrics.acc', 'Expected numeric value type for metric'],
    ['1.0 > metrics.acc', "Expected 'Identifier' found '1.0'"],
    ['attribute.status = 1', 'Expected a quoted string value for attribute'],
    ["attributes.start_time = 'now'", 'Expected numeric value type for numeric attribute: start_time'],
    ['attributes.end_time > later', 'Expected numeric value type for numeric attribute: end_time'],
    ['datasets.name = 40', 'Expected a quoted string value for dataset'],
    // bad quotes
    ['params.acc = LR', 'value is either not quoted or unidentified quote types'],
    ['tags.acc = LR', 'value is either not quoted or unidentified quote types'],
    ['params.acc = `LR`', 'value is either not quoted or unidentified quote types'],
    ["params.'acc = LR", 'Invalid clause(s) in filter string'],
    ["params.acc = 'LR", 'Invalid clause(s) in filter string'],
    ["params.acc = LR'", 'Invalid clause(s) in filter string'],
    [`params.acc = "LR'`, 'Invalid clause(s) in filter string'],
    [`tags.acc = "LR'`, 'Invalid clause(s) in filter string'],
    ["tags.acc = = 'LR'", 'Invalid clause(s) in filter string'],
    ["attribute.status IS 'RUNNING'", 'Invalid clause(s) in filter string'],
    // invalid clauses
    ['params.acc LR !=', 'Invalid clause(s) in filter string'],
    ['params.acc LR', 'Invalid clause(s) in filter string'],
    ['metric.acc !=', 'Invalid clause(s) in filter string'],
    ['metric.acc', 'Invalid clause(s) in filter string'],
    ['acc != 1.0', 'Invalid attribute key'],
    ['foo is null', 'Invalid attribute key'],
    ['1=1', "Expected 'Identifier' found '1'"],
    ['1==2', "Expected 'Identifier' found '1'"],
    ["= 'x'", "Expected 'Identifier' found '='"],
    ['metrics.a > 1 AND', "expected a comparison after 'AND'"],
    ['metrics.a > 1 AND AND metrics.b > 1', 'Invalid clause(s) in filter string'],
    ['metrics.a > 1 metrics.b > 2', 'expected AND between comparisons'],
    ["params.a NOT LIKE 'x'", "'NOT LIKE' is not supported"],
    ["NOT params.a = 'x'", 'Invalid clause(s) in filter string'],
    ['metrics.a > 1abc', "'1abc' is not a number"],
    ['metrics.a > 1.2.3', "'1.2.3' is not a number"],
    ['metrics.a > 1e999', 'out of range'],
    ['metrics.a > -', 'expected a value'],
    ['metrics. > 1', 'expected a name in identifier'],
    ['metrics.a-b > 1', 'quote keys holding special characters'],
    ['metrics."" > 1', 'the key is empty'],
    ["tags.`a`.b = 'x'", 'quote the whole key'],
    // lists
    ["attributes.run_id IN 'a'", 'IN must be followed by a parenthesised list'],
    ["attributes.run_id = ('a')", 'a parenthesised list is only allowed after IN or NOT IN'],
    ["attributes.run_id IN ('a', 'b'", 'unterminated list'],
    ["attributes.run_id IN ('a' 'b')", "expected ',' or ')' in list"],
    ["attributes.run_id IN (('a'))", 'nested lists are not supported'],
    ['attributes.run_id IN ()', 'expected a non-empty list of string values, but got empty list'],
    ['attributes.run_id IN (1, 2)', 'expected quoted string values, but got 1'],
    ["attributes.run_id IN ('a', b)", 'expected quoted string values, but got b'],
    ["attributes.run_name IN ('foo','bar')", "Only the 'run_id' attribute supports IN"],
    ["attributes.status NOT IN ('FAILED')", "Only the 'run_id' attribute supports NOT IN"],
  ];
  for (const [filter, message] of cases) {
    it(`rejects ${JSON.stringify(filter)}`, () => rejects(filter, 'runs', message));
  }

  it('says where a syntax error is', () => {
    rejects("metrics.A > 0.1 OR params.B = 'LR'", 'runs', /'OR' is not supported.*\(at character 17\)/);
    rejects("params.acc = 'LR", 'runs', /unterminated ' quote \(at character 14\)/);
  });

  it('lists the valid entity spellings and attribute keys', () => {
    rejects('m.acc >= 0.94', 'runs', "Valid values are ['metric', 'metrics', 'parameter'");
    rejects(
      'acc >= 0.94',
      'runs',
      "Invalid attribute key 'acc' specified. Valid keys are ['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', 'end_time', 'created'",
    );
    rejects("dataset.status = 'x'", 'runs', "Valid keys are ['name', 'digest', 'context']");
  });

  it('shortens echoed input so a huge filter does not make a huge message', () => {
    const long = `params.${'k'.repeat(10_000)} = 5`;
    assert.throws(
      () => parseFilter(long, 'runs'),
      (error: unknown) => error instanceof MloopError && error.message.length < 300,
    );
  });
});

describe('parseFilter: comparators per entity', () => {
  const bad: [string, string[], string, string][] = [
    ['metrics', ['~', '~=', '==', '<>', '=>', 'LIKE', 'ILIKE', 'IN', 'NOT IN'], 'abc', '1.0'],
    ['params', ['>', '<', '>=', '<=', '~', '=='], 'abc', "'my-param-value'"],
    ['tags', ['>', '<', '>=', '<=', '~'], 'abc', "'my-tag-value'"],
    ['attributes', ['>', '<', '>=', '<=', '~'], 'status', "'my-tag-value'"],
    ['attributes', ['LIKE', 'ILIKE'], 'start_time', '1234'],
    ['datasets', ['>', '<', '>=', '<=', '~'], 'name', "'my-dataset-name'"],
  ];
  for (const [entity, comparators, key, value] of bad) {
    for (const comparator of comparators) {
      const filter = ['IN', 'NOT IN'].includes(comparator)
        ? `${entity}.${key} ${comparator} ('x')`
        : `${entity}.${key} ${comparator} ${value}`;
      it(`rejects ${filter}`, () => rejects(filter, 'runs', `Invalid comparator '${comparator}'`));
    }
  }

  it('names the key and lists the allowed comparators', () => {
    rejects('metrics.abc ~ 1', 'runs', "Invalid comparator '~' for metric 'abc', not one of ['=', '!=', '<', '<=', '>', '>=']");
    rejects(
      "params.p > 'x'",
      'runs',
      "Invalid comparator '>' for param 'p', not one of ['=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL']",
    );
    rejects("attributes.status < 'x'", 'runs', "for attribute 'status', not one of ['=', '!=', 'LIKE', 'ILIKE']");
  });
});

describe('parseFilter: experiments', () => {
  it('accepts name, time attributes and tags as MLflow does', () => {
    assert.deepEqual(parseFilter("name = 'a'", 'experiments'), [str('attribute', 'name', '=', 'a')]);
    assert.deepEqual(parseFilter("attribute.name = 'a'", 'experiments'), [str('attribute', 'name', '=', 'a')]);
    assert.deepEqual(parseFilter("attribute.`name` != 'a'", 'experiments'), [str('attribute', 'name', '!=', 'a')]);
    assert.deepEqual(parseFilter("name ILIKE 'a%' AND name ILIKE '%b'", 'experiments'), [
      str('attribute', 'name', 'ILIKE', 'a%'),
      str('attribute', 'name', 'ILIKE', '%b'),
    ]);
    assert.deepEqual(parseFilter('creation_time >= 1 and last_update_time < 2', 'experiments'), [
      num('attribute', 'creation_time', '>=', 1),
      num('attribute', 'last_update_time', '<', 2),
    ]);
    assert.deepEqual(parseFilter("tag.key1 = 'value' and tags.`k e y 1` LIKE 'v%'", 'experiments'), [
      str('tag', 'key1', '=', 'value'),
      str('tag', 'k e y 1', 'LIKE', 'v%'),
    ]);
    assert.deepEqual(parseFilter('tag."k e y 1" = \'value\'', 'experiments'), [str('tag', 'k e y 1', '=', 'value')]);
    assert.deepEqual(parseFilter('tag.key1 IS NOT NULL AND tag.key2 IS NULL', 'experiments'), [
      isNull('tag', 'key1', 'IS NOT NULL'),
      isNull('tag', 'key2', 'IS NULL'),
    ]);
  });

  const cases: [string, string][] = [
    ['name IS NULL', 'IS NULL / IS NOT NULL is only supported for tags, not for attribute'],
    ["attributes.name = 'a'", "Invalid entity type 'attributes' in experiment search"],
    ['metrics.a > 1', "Invalid entity type 'metrics'"],
    ["params.a = 'x'", "Invalid entity type 'params'"],
    ["experiment_id = '1'", "Invalid attribute key 'experiment_id'"],
    ["lifecycle_stage = 'active'", 'Invalid attribute key'],
    ["creation_time = 'x'", 'Expected numeric value type for numeric attribute: creation_time'],
    ['name = 1', "Expected a quoted string value for attribute 'name'"],
    ["name IN ('a')", 'IN is not supported in experiment search'],
    ['creation_time LIKE 1', "Invalid comparator 'LIKE' for attribute 'creation_time'"],
    ["tags.k > 'v'", "Invalid comparator '>' for tag 'k'"],
  ];
  for (const [filter, message] of cases) {
    it(`rejects ${JSON.stringify(filter)}`, () => rejects(filter, 'experiments', message));
  }
});

describe('parseFilter: registered models', () => {
  it('accepts name and tags', () => {
    assert.deepEqual(parseFilter("name = 'm' and name LIKE '%x%' and attribute.name != 'y'", 'registered_models'), [
      str('attribute', 'name', '=', 'm'),
      str('attribute', 'name', 'LIKE', '%x%'),
      str('attribute', 'name', '!=', 'y'),
    ]);
    assert.deepEqual(parseFilter("tags.k = 'v' and tag.`k e y` ILIKE 'V%'", 'registered_models'), [
      str('tag', 'k', '=', 'v'),
      str('tag', 'k e y', 'ILIKE', 'V%'),
    ]);
    assert.deepEqual(parseFilter("tags.`mlflow.prompt.is_prompt` != 'true'", 'registered_models'), [
      str('tag', 'mlflow.prompt.is_prompt', '!=', 'true'),
    ]);
  });

  const cases: [string, string][] = [
    ['tags.k IS NULL', 'IS NULL / IS NOT NULL is not supported in registered model search'],
    ["name IN ('a')", 'IN is not supported in registered model search'],
    ["name > 'a'", "Invalid comparator '>' for attribute 'name'"],
    ['version_number = 1', "Invalid attribute key 'version_number'"],
    ["run.name = 'x'", "Invalid entity type 'run'"],
    ["tags.k LIKE 1", "Expected a quoted string value for tag 'k'"],
  ];
  for (const [filter, message] of cases) {
    it(`rejects ${JSON.stringify(filter)}`, () => rejects(filter, 'registered_models', message));
  }
});

describe('parseFilter: model versions', () => {
  it('accepts name, version_number, run_id (with IN), source_path and tags', () => {
    const filter =
      "name = 'm' and version_number >= 2 and run_id IN ('abc', 'def') and run_id != 'x' and " +
      "source_path LIKE 'mlflow-artifacts:/%' and tags.k = 'v'";
    assert.deepEqual(parseFilter(filter, 'model_versions'), [
      str('attribute', 'name', '=', 'm'),
      num('attribute', 'version_number', '>=', 2),
      list('attribute', 'run_id', 'IN', ['abc', 'def']),
      str('attribute', 'run_id', '!=', 'x'),
      str('attribute', 'source_path', 'LIKE', 'mlflow-artifacts:/%'),
      str('tag', 'k', '=', 'v'),
    ]);
  });

  const cases: [string, string][] = [
    ["version_number = '1'", 'Expected numeric value type for numeric attribute: version_number'],
    ["run_id NOT IN ('a')", 'NOT IN is not supported in model version search'],
    ["name IN ('a')", "Only the 'run_id' attribute supports IN with a list of quoted string values, not attribute 'name'"],
    ['name = 1', "Expected a quoted string value for attribute 'name'"],
    ["source = 'x'", "Invalid attribute key 'source'"],
    ["tags.k > 'v'", "Invalid comparator '>' for tag 'k'"],
    ["version_number LIKE '1%'", "Invalid comparator 'LIKE' for attribute 'version_number'"],
    ['tags.k IS NOT NULL', 'IS NULL / IS NOT NULL is not supported in model version search'],
  ];
  for (const [filter, message] of cases) {
    it(`rejects ${JSON.stringify(filter)}`, () => rejects(filter, 'model_versions', message));
  }
});
