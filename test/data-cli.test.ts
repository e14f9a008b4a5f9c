/** `mloop data ...` against a real server process, as users run it: text and `--json`. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from './support/backends.ts';
import { runCli, spawnServer, type ServerProcess } from './support/process.ts';

describe('mloop data', () => {
  let server: ServerProcess;
  let home: { path: string; cleanup(): Promise<void> };
  let work: { path: string; cleanup(): Promise<void> };
  const cli = (...args: string[]) => runCli([...args, '--url', server.url], { MLOOP_URL: '' });

  before(async () => {
    home = await tempDir();
    work = await tempDir();
    server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
    await writeFile(join(work.path, 'rides.csv'), 'ride_id,fare,zone\n1,12.5,A1\n2,7.25,B2\n3,,A1\n4,30,C3\n');
    await writeFile(join(work.path, 'rides2.csv'), 'ride_id,fare,zone\n1,42.5,C3\n2,37.25,C3\n');
    await writeFile(join(work.path, 'schema.yaml'), 'columns:\n  - name: ride_id\n    tags: [entity]\n  - name: fare\n    type: float\n    tags: [label]\n');
    await writeFile(join(work.path, 'rules.yaml'), 'rules:\n  - { rule: range, column: fare, min: 0, max: 20 }\n  - { rule: unique, columns: [ride_id], severity: warn }\n');
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await home?.cleanup();
    await work?.cleanup();
  });

  it('adds, lists, shows, profiles, validates, diffs, downloads and deletes', async () => {
    const add = await cli('data', 'add', 'rides', join(work.path, 'rides.csv'), '--schema', join(work.path, 'schema.yaml'), '--json');
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout);
    assert.equal(added.created, true);
    const v1: string = added.version.version;
    assert.deepEqual(added.version.schema.columns[1].tags, ['label']);
    assert.equal(added.version.source.name, 'rides.csv');

    const again = await cli('data', 'add', 'rides', join(work.path, 'rides.csv'), '--schema', join(work.path, 'schema.yaml'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`unchanged \\(already a version\\) rides@${v1.slice(0, 12)}: 4 rows, 3 columns`));

    const v2 = JSON.parse((await cli('data', 'add', 'rides', join(work.path, 'rides2.csv'), '--json')).stdout).version.version as string;

    const list = await cli('data', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^NAME\s+VERSIONS\s+LATEST\s+UPDATED\nrides\s+2\s+/);
    const versions = JSON.parse((await cli('data', 'list', 'rides', '--json')).stdout);
    assert.deepEqual(versions.versions.map((v: { version: string }) => v.version).sort(), [v1, v2].sort());

    const get = await cli('data', 'get', `rides@${v1.slice(0, 10)}`);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, new RegExp(`version\\s+${v1}`));
    assert.match(get.stdout, /SCHEMA\nNAME\s+TYPE\s+NULLABLE\s+TAGS\nride_id\s+integer\s+no\s+entity/);
    assert.match(get.stdout, /PROFILE\n4 rows/);

    const profile = JSON.parse((await cli('data', 'profile', `rides@${v1}`, '--json')).stdout);
    assert.equal(profile.columns[1].nulls, 1);

    const validate = await cli('data', 'validate', `rides@${v1}`, '--rules', join(work.path, 'rules.yaml'));
    assert.equal(validate.code, 1, 'an error rule failed');
    assert.match(validate.stdout, /FAILED \(1\/2 rules passed\)/);
    assert.match(validate.stdout, /range\(fare\)\s+error\s+FAIL\s+1/);
    const validJson = await cli('data', 'validate', `rides@${v2}`, '--rules', join(work.path, 'rules.yaml'), '--json');
    assert.equal(validJson.code, 1);
    assert.equal(JSON.parse(validJson.stdout).status, 'failed');

    const diff = await cli('data', 'diff', `rides@${v1}`, v2.slice(0, 8));
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /rows: 4 → 2 \(-2\)/);
    assert.match(diff.stdout, /fare\s+numeric\s+\d/);

    const out = join(work.path, 'out.parquet');
    const download = await cli('data', 'download', `rides@${v1}`, '-o', out, '--json');
    assert.equal(download.code, 0, download.stderr);
    assert.equal(createHash('sha256').update(await readFile(out)).digest('hex'), v1);
    const csvOut = join(work.path, 'out.csv');
    assert.equal((await cli('data', 'download', `rides@${v1}`, '--format', 'csv', '-o', csvOut)).code, 0);
    assert.match(await readFile(csvOut, 'utf8'), /^ride_id,fare,zone\n1,12.5,A1\n/);

    const noVersion = await cli('data', 'delete', 'rides');
    assert.equal(noVersion.code, 2);
    assert.match(noVersion.stderr, /name the version to delete/);
    const del = await cli('data', 'delete', `rides@${v2}`, '--json');
    assert.equal(del.code, 0, del.stderr);
    assert.equal(JSON.parse(del.stdout).version, v2);
    const all = await cli('data', 'delete', 'rides', '--all');
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /deleted dataset rides \(1 versions\)/);
  });

  it('lists the validation reports of a version and retracts one', async () => {
    const v = JSON.parse((await cli('data', 'add', 'checked', join(work.path, 'rides.csv'), '--json')).stdout).version.version as string;
    await writeFile(join(work.path, 'rows.yaml'), 'rules:\n  - { rule: row_count, min: 1 }\n');
    const failed = JSON.parse((await cli('data', 'validate', 'checked', '--rules', join(work.path, 'rules.yaml'), '--json')).stdout);
    const passed = JSON.parse((await cli('data', 'validate', 'checked', '--rules', join(work.path, 'rows.yaml'), '--json')).stdout);
    assert.deepEqual([failed.status, passed.status], ['failed', 'passed']);

    const list = await cli('data', 'validations', 'list', 'checked');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^checked@${v.slice(0, 12)}: failed\nID\\s+EVALUATED\\s+BY\\s+RULES\\s+STATUS\\s+PASSED\n${passed.id}\\s.*passed\\s+1/1\n${failed.id}\\s.*failed\\s+1/2$`, 'm'));
    const listed = JSON.parse((await cli('data', 'validations', 'list', `checked@${v.slice(0, 8)}`, '--json')).stdout);
    assert.deepEqual([listed.version, listed.validation.status, listed.validations.map((r: { id: string }) => r.id)], [v, 'failed', [passed.id, failed.id]]);

    const help = await cli('data', 'validations', 'delete', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: mloop data validations delete \[options\] <ref> <id>/);
    assert.match(help.stdout, /--json/);
    const noVersion = await cli('data', 'validations', 'delete', 'checked', failed.id);
    assert.equal(noVersion.code, 2);
    assert.match(noVersion.stderr, /NAME@VERSION/);

    const retracted = await cli('data', 'validations', 'delete', `checked@${v}`, failed.id);
    assert.equal(retracted.code, 0, retracted.stderr);
    assert.equal(retracted.stdout, `deleted validation report ${failed.id} of checked@${v.slice(0, 12)}; its validation state is now passed\n`);
    const again = await cli('data', 'validations', 'delete', `checked@${v}`, failed.id, '--json');
    assert.equal(again.code, 1);
    assert.equal(JSON.parse(again.stderr).error.code, 'RESOURCE_DOES_NOT_EXIST');
    const last = await cli('data', 'validations', 'delete', `checked@${v}`, passed.id, '--json');
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(JSON.parse(last.stdout), { deleted: passed.id, dataset: 'checked', version: v, validation: { status: 'unvalidated' } });
  });

  it('reports bad files and arguments clearly', async () => {
    await writeFile(join(work.path, 'bad.csv'), 'a,b\n1,2\n3\n');
    const bad = await cli('data', 'add', 'bad', join(work.path, 'bad.csv'), '--json');
    assert.equal(bad.code, 1, 'refused by the server');
    const error = JSON.parse(bad.stderr).error;
    assert.equal(error.code, 'INVALID_PARAMETER_VALUE');
    assert.match(error.message, /dataset "bad": line 3 has 1 field, expected 2/);
    const unknown = await cli('data', 'add', 'bad', join(work.path, 'rules.yaml'));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /give --format csv\|parquet\|jsonl/);
    const missing = await cli('data', 'add', 'bad', join(work.path, 'nope.csv'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file/);
    const format = await cli('data', 'add', 'bad', join(work.path, 'bad.csv'), '--format', 'xlsx');
    assert.equal(format.code, 2);
    const notFound = await cli('data', 'get', 'nope@latest');
    assert.equal(notFound.code, 1);
    assert.match(notFound.stderr, /dataset "nope" does not exist/);
  });
});
