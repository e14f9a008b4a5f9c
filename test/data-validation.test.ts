/**
 * Validation rules over HTTP: every rule kind passing and failing with counts and sample rows,
 * freshness against the injected clock, severities, stored reports, the usability gate (a verdict per
 * rules set: one failed blocks until that rules set passes, or its report is retracted), and custom
 * SQL predicates that cannot be anything but a boolean expression over the columns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.ts';
import { metadataBackends } from './support/backends.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const TRIPS = [
  'trip_id,driver,fare,payment,zone,pickup_at,dropoff_at',
  '1,d1,12.5,card,AB12,2024-03-01T08:00:00Z,2024-03-01T08:20:00Z',
  '2,d1,-3,cash,AB13,2024-03-01T09:00:00Z,2024-03-01T08:50:00Z',
  '3,d2,,card,XY1,2024-03-01T10:00:00Z,2024-03-01T10:30:00Z',
  '4,d2,40,bitcoin,zz9,2024-03-01T11:00:00Z,2024-03-01T11:10:00Z',
  '4,d3,18,card,CD77,2024-03-01T12:00:00Z,2024-03-01T12:45:00Z',
].join('\n');

const NOW = Date.parse('2024-03-02T12:00:00Z');

for (const backend of metadataBackends()) {
  describe(`dataset validation (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let clock: ManualClock;
    before(async () => {
      clock = new ManualClock(NOW);
      server = await startTestServer({ metadata: backend, clock });
      const added = await uploadDataset(server, 'trips', TRIPS);
      assert.equal(added.status, 201, JSON.stringify(added.body));
    });
    after(() => server?.close());

    const validate = (rules: unknown, version = 'latest') => server.json('POST', `/api/v1/datasets/trips/versions/${version}/validations`, rules);

    it('reports every rule with pass/fail, failing counts and sample rows', async () => {
      const response = await validate({
        rules: [
          { rule: 'column', column: 'fare', type: 'float' },
          { rule: 'column', column: 'fare', type: 'integer', name: 'fare is integer' },
          { rule: 'column', column: 'tip' },
          { rule: 'null_fraction', column: 'fare', max: 0.1 },
          { rule: 'null_fraction', column: 'fare', max: 0.25 },
          { rule: 'range', column: 'fare', min: 0, max: 100 },
          { rule: 'range', column: 'pickup_at', min: '2024-03-01T08:30:00Z' },
          { rule: 'allowed_values', column: 'payment', values: ['card', 'cash'] },
          { rule: 'regex', column: 'zone', pattern: '^[A-Z]{2}[0-9]+$' },
          { rule: 'unique', columns: ['trip_id'] },
          { rule: 'unique', columns: ['trip_id', 'driver'] },
          { rule: 'row_count', min: 1, max: 4 },
          { rule: 'freshness', column: 'dropoff_at', max_age: '36h' },
          { rule: 'sql', expression: 'dropoff_at >= pickup_at', severity: 'warn' },
          { rule: 'sql', expression: "fare > 0 OR payment = 'cash'" },
        ],
      });
      assert.equal(response.status, 201, JSON.stringify(response.body));
      const report = response.body;
      assert.equal(report.status, 'failed');
      assert.equal(report.row_count, 5);
      assert.equal(report.evaluated_at, NOW);
      const byName = Object.fromEntries(report.results.map((r: any) => [r.name, r]));
      const expect = (name: string, passed: boolean, failing: number | null) => {
        const r = byName[name];
        assert.ok(r, `no result named ${name}: ${Object.keys(byName).join(', ')}`);
        assert.equal(r.passed, passed, `${name}: ${r.message}`);
        assert.equal(r.failing_count, failing, `${name} failing count`);
      };
      expect('column(fare)', true, null);
      expect('fare is integer', false, null);
      expect('column(tip)', false, null);
      assert.match(byName['column(tip)'].message, /not in this version/);
      expect('null_fraction(fare)', false, 1);
      expect('null_fraction(fare) #2', true, 1);
      expect('range(fare)', false, 1);
      assert.deepEqual(
        byName['range(fare)'].sample.map((r: any) => [r._row, r.trip_id, r.fare]),
        [[2, 2, -3]],
      );
      expect('range(pickup_at)', false, 1);
      expect('allowed_values(payment)', false, 1);
      assert.equal(byName['allowed_values(payment)'].sample[0].payment, 'bitcoin');
      expect('regex(zone)', false, 1);
      assert.equal(byName['regex(zone)'].sample[0].zone, 'zz9');
      expect('unique(trip_id)', false, 2);
      assert.deepEqual(byName['unique(trip_id)'].sample.map((r: any) => r._row), [4, 5]);
      expect('unique(trip_id, driver)', true, 0);
      expect('row_count', false, null);
      assert.equal(byName.row_count.observed, 5);
      expect('freshness(dropoff_at)', true, null);
      assert.deepEqual(byName['freshness(dropoff_at)'].observed, { newest: '2024-03-01T12:45:00.000Z', age_ms: NOW - Date.parse('2024-03-01T12:45:00Z') });
      expect('sql(dropoff_at >= pickup_at)', false, 1);
      assert.equal(byName['sql(dropoff_at >= pickup_at)'].severity, 'warn');
      expect("sql(fare > 0 OR payment = 'cash')", true, 0);
      assert.deepEqual(report.summary, { rules: 15, passed: 5, failed_errors: 9, failed_warnings: 1 });
    });

    it('judges freshness by the injected clock', async () => {
      const rules = { rules: [{ rule: 'freshness', column: 'dropoff_at', max_age: '1d' }] };
      assert.equal((await validate(rules)).body.status, 'passed');
      clock.advance(2 * 86_400_000);
      const stale = await validate(rules);
      assert.equal(stale.body.status, 'failed');
      assert.match(stale.body.results[0].message, /newest dropoff_at is 2024-03-01T12:45:00.000Z, 3\.0d old; allowed 1\.0d/);
    });

    it('blocks use while the latest report of any rules set failed, whatever other rules sets say', async () => {
      // Two rules sets failed on this version: the one of the first test, and freshness in the test before.
      const gate = await server.json('GET', '/api/v1/datasets/trips/versions/latest/usable');
      assert.equal(gate.status, 400);
      assert.equal(gate.body.code, 'INVALID_STATE');
      assert.match(gate.body.detail, /failed validation and cannot be used: freshness\(dropoff_at\) .*; fare is integer /);
      const ctx = { actor: { name: 'trainer' }, project: 'default', requestId: 't' };
      await assert.rejects(server.app.services.datasets.assertUsable(ctx, 'trips', 'latest'), (e: any) => e.code === 'INVALID_STATE' && e.status === 400);
      const failedFreshness = (await server.json('GET', '/api/v1/datasets/trips/versions/latest/validations')).body.validations[0];
      assert.equal(failedFreshness.status, 'failed');

      // A rules set of warnings only passes with warnings, and clears nothing of the others.
      const warnOnly = await validate({ rules: [{ rule: 'sql', expression: 'dropoff_at >= pickup_at', severity: 'warn' }] });
      assert.equal(warnOnly.body.status, 'warned');
      const still = await server.json('GET', '/api/v1/datasets/trips/versions/latest/usable');
      assert.equal(still.status, 400);
      assert.match(still.body.detail, /freshness\(dropoff_at\)/);
      const version = await server.json('GET', '/api/v1/datasets/trips/versions/latest?profile=false');
      assert.equal(version.body.validation.status, 'failed');
      assert.equal(version.body.validation.report_id, failedFreshness.id, 'the state names the newest failed verdict');

      const listed = await server.json('GET', '/api/v1/datasets/trips/versions/latest/validations');
      assert.equal(listed.body.validations.length, 4);
      assert.equal(listed.body.validations[0].id, warnOnly.body.id, 'newest first');
      const one = await server.json('GET', `/api/v1/datasets/trips/validations/${warnOnly.body.id}`);
      assert.equal(one.status, 200);
      assert.equal(one.body.rules_sha256, warnOnly.body.rules_sha256);
      const elsewhere = await server.json('GET', `/api/v1/datasets/other/validations/${warnOnly.body.id}`);
      assert.equal(elsewhere.status, 404);
      assert.match(elsewhere.body.detail, /dataset "other" has no validation report/);
      const same = await validate({ rules: [{ severity: 'warn', expression: 'dropoff_at >= pickup_at', rule: 'sql' }] });
      assert.equal(same.body.rules_sha256, warnOnly.body.rules_sha256, 'a rules set is named by its content');

      // The same failed rules set run again with nothing fixed fails again.
      const again = await validate({ rules: [{ rule: 'freshness', column: 'dropoff_at', max_age: '1d' }] });
      assert.equal(again.body.status, 'failed');
      assert.equal(again.body.rules_sha256, failedFreshness.rules_sha256);
      assert.equal((await server.json('GET', '/api/v1/datasets/trips/versions/latest/usable')).status, 400);
    });

    it('clears a failed verdict only by a later report of the same rules set that does not fail', async () => {
      // A clock that can be set back (a server whose clock ran ahead and was corrected): freshness
      // is the one rule whose verdict on the same content can change.
      let now = NOW + 3 * 86_400_000;
      const own = await startTestServer({ metadata: backend, clock: { now: () => now } });
      try {
        assert.equal((await uploadDataset(own, 'mended', TRIPS)).status, 201);
        const rules = { rules: [{ rule: 'freshness', column: 'dropoff_at', max_age: '1d' }] };
        const check = (body: unknown) => own.json('POST', '/api/v1/datasets/mended/versions/latest/validations', body);
        const usable = () => own.json('GET', '/api/v1/datasets/mended/versions/latest/usable');
        assert.equal((await check(rules)).body.status, 'failed');
        assert.equal((await check({ rules: [{ rule: 'row_count', min: 1 }] })).body.status, 'passed');
        assert.equal((await check({ rules: [{ rule: 'sql', expression: 'dropoff_at >= pickup_at', severity: 'warn' }] })).body.status, 'warned');
        assert.equal((await usable()).status, 400, 'other rules sets passing do not clear the failed one');
        now = NOW;
        assert.equal((await check(rules)).body.status, 'passed');
        const gate = await usable();
        assert.equal(gate.status, 200, JSON.stringify(gate.body));
        assert.equal(gate.body.validation.status, 'warned', 'the worst verdict left: the warnings');
      } finally {
        await own.close();
      }
    });

    it('retracts a report: the version is judged again from the reports left, in the same request', async () => {
      assert.equal((await uploadDataset(server, 'retracted', TRIPS)).status, 201);
      const base = '/api/v1/datasets/retracted/versions/latest';
      const check = (rules: unknown) => server.json('POST', `${base}/validations`, rules);
      const retract = (id: string, version = 'latest') => server.json('DELETE', `/api/v1/datasets/retracted/versions/${version}/validations/${id}`);
      // A typo in a rule (max 4 for 40): the content fails it for good, however often it is run.
      const typo = { rules: [{ rule: 'range', column: 'fare', min: 0, max: 4 }] };
      const first = (await check(typo)).body;
      const second = (await check(typo)).body;
      const good = (await check({ rules: [{ rule: 'row_count', min: 1 }] })).body;
      assert.deepEqual([first.status, second.status, good.status], ['failed', 'failed', 'passed']);
      assert.equal((await server.json('GET', `${base}/usable`)).status, 400);

      // The newest report of the rules set goes: the one before is its verdict again.
      const once = await retract(second.id);
      assert.equal(once.status, 200, JSON.stringify(once.body));
      const version = once.body.version as string;
      assert.deepEqual(once.body, { deleted: second.id, dataset: 'retracted', version, validation: { status: 'failed', report_id: first.id, evaluated_at: first.evaluated_at } });
      // Then the last failed one: only the good rules set is left.
      const twice = await retract(first.id, version.slice(0, 8));
      assert.deepEqual([twice.status, twice.body.validation], [200, { status: 'passed', report_id: good.id, evaluated_at: good.evaluated_at }]);
      const usable = await server.json('GET', `${base}/usable`);
      assert.deepEqual([usable.status, usable.body.validation.status], [200, 'passed']);
      assert.deepEqual((await server.json('GET', `${base}/validations`)).body.validations.map((r: any) => r.id), [good.id]);
      assert.equal((await server.json('GET', `/api/v1/datasets/retracted/validations/${first.id}`)).status, 404);

      // Unknown reports, and reports of another version, are not there to delete.
      const gone = await retract(first.id);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.code, 'RESOURCE_DOES_NOT_EXIST');
      assert.match(gone.body.detail, new RegExp(`dataset "retracted" version ${version.slice(0, 12)} has no validation report "${first.id}"`));
      const ofTrips = (await server.json('GET', '/api/v1/datasets/trips/versions/latest/validations')).body.validations[0].id as string;
      assert.equal((await retract(ofTrips)).status, 404);
      assert.equal((await server.json('GET', `/api/v1/datasets/trips/validations/${ofTrips}`)).status, 200, 'left alone');
      assert.equal((await server.json('DELETE', `/api/v1/datasets/nope/versions/latest/validations/${good.id}`)).status, 404);

      // The last report gone, the version was never validated.
      const last = await retract(good.id);
      assert.deepEqual([last.status, last.body.validation], [200, { status: 'unvalidated' }]);
      const got = await server.json('GET', `${base}?profile=false`);
      assert.deepEqual(got.body.validation, { status: 'unvalidated' });
    });

    it('requires a validation when asked, for versions never validated', async () => {
      const fresh = await uploadDataset(server, 'unchecked', TRIPS);
      assert.equal(fresh.status, 201);
      assert.equal((await server.json('GET', '/api/v1/datasets/unchecked/versions/latest/usable')).status, 200);
      const strict = await server.json('GET', '/api/v1/datasets/unchecked/versions/latest/usable?require_validation=true');
      assert.equal(strict.status, 400);
      assert.match(strict.body.detail, /has not been validated/);
    });

    it('refuses SQL predicates that are anything but a boolean expression over the columns', async () => {
      const attempts: [string, RegExp][] = [
        ['fare > 0; DROP TABLE x', /must not contain ";"/],
        ["(SELECT count(*) FROM read_csv('/etc/passwd')) > 0", /subquery is not allowed/],
        ["read_text('/etc/passwd') IS NOT NULL", /function read_text\(\) is not allowed/],
        ['1 FROM range(10)', /no FROM/],
        ['fare > 0 UNION SELECT 1', /not a valid SQL expression|no FROM/],
        ["current_setting('home_directory') IS NOT NULL", /function current_setting\(\) is not allowed/],
        ["getenv('HOME') IS NOT NULL", /function getenv\(\) is not allowed/],
        ['t.fare > 0', /qualified column reference/],
        ['sum(fare) > 0', /function sum\(\) is not allowed/],
        ['fare >', /not a valid SQL expression/],
        ['EXISTS (SELECT 1)', /subquery is not allowed/],
        ['fare > ?', /parameter is not allowed/],
        ["COPY trips TO '/tmp/x'", /not a valid SQL expression/],
        ['fare > 0 -- comment', /.+/],
      ];
      for (const [expression, reason] of attempts) {
        const response = await validate({ rules: [{ rule: 'sql', expression }] });
        if (expression.endsWith('-- comment')) {
          // A trailing comment is harmless: the expression still parses as one boolean expression.
          assert.equal(response.status, 201, JSON.stringify(response.body));
          continue;
        }
        assert.equal(response.status, 400, `${expression}: ${JSON.stringify(response.body)}`);
        assert.match(response.body.detail, reason, expression);
        assert.equal(response.body.errors[0].field, 'rules[0].expression');
      }
      const typeError = await validate({ rules: [{ rule: 'sql', expression: "payment + 1 > 0" }] });
      assert.equal(typeError.status, 400);
      assert.match(typeError.body.detail, /rules\[0\]\.expression: cannot be evaluated/);
      const unknownColumn = await validate({ rules: [{ rule: 'sql', expression: 'tip > 0' }] });
      assert.equal(unknownColumn.status, 201);
      assert.match(unknownColumn.body.results[0].message, /column "tip" not in this version/);
    });

    it('refuses malformed rules documents, naming the field', async () => {
      const cases: [unknown, string][] = [
        [{}, 'rules'],
        [{ rules: [] }, 'rules'],
        [{ rules: [{ rule: 'nope' }] }, 'rules[0].rule'],
        [{ rules: [{ rule: 'range', column: 'fare' }] }, 'rules[0].min'],
        [{ rules: [{ rule: 'null_fraction', column: 'fare', max: 2 }] }, 'rules[0].max'],
        [{ rules: [{ rule: 'freshness', column: 'pickup_at', max_age: 'soon' }] }, 'rules[0].max_age'],
        [{ rules: [{ rule: 'regex', column: 'zone', pattern: '(' }] }, 'rules[0].pattern'],
        [{ rules: [{ rule: 'allowed_values', column: 'fare', values: ['x'] }] }, 'rules[0].values'],
        [{ rules: [{ rule: 'range', column: 'fare', min: 'low' }] }, 'rules[0].min'],
        [{ rules: [{ rule: 'column', column: 'fare', severity: 'fatal' }] }, 'rules[0].severity'],
        [{ rules: [{ rule: 'unique' }] }, 'rules[0].columns'],
      ];
      for (const [body, field] of cases) {
        const response = await validate(body);
        assert.equal(response.status, 400, JSON.stringify(body));
        const fields = (response.body.errors ?? []).map((e: { field: string }) => e.field);
        assert.ok(fields.some((f: string) => f === field || f.endsWith(field)), `${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
      }
    });
  });
}
