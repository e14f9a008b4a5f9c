/** The `mloop` command: help everywhere, clear errors, and the commands against a real server process. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.ts';
import { tempDir } from './support/backends.ts';
import { runCli, spawnServer, type ServerProcess } from './support/process.ts';

function walk(command: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return command.commands.flatMap((sub) => [{ path: [...path, sub.name()], command: sub }, ...walk(sub, [...path, sub.name()])]);
}

describe('mloop command tree', () => {
  it('gives every command --help and --json', async () => {
    const commands = walk(buildProgram());
    assert.ok(commands.length >= 10);
    for (const { path, command } of commands) {
      const flags = command.options.map((o) => o.long);
      assert.ok(flags.includes('--json') || command.commands.length > 0, `${path.join(' ')} lacks --json`);
    }
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    for (const name of ['server', 'experiments', 'runs', 'models']) assert.match(top.stdout, new RegExp(`\\b${name}\\b`));
    // Every command is listed by `mloop --help`, and every group's help lists its subcommands.
    for (const command of buildProgram().commands) assert.match(top.stdout, new RegExp(`^  ${command.name()}\\b`, 'm'), command.name());
    for (const { path, command } of commands) {
      let written = '';
      const program = buildProgram();
      const capture = (c: Command) => {
        c.configureOutput({ writeOut: (s) => (written += s), writeErr: (s) => (written += s) });
        c.commands.forEach(capture);
      };
      capture(program);
      await assert.rejects(program.parseAsync(['node', 'mloop', ...path, '--help']), (e: { code?: string }) => e.code === 'commander.helpDisplayed');
      assert.match(written, new RegExp(`^Usage: mloop ${path.join(' ')}`), path.join(' '));
      for (const sub of command.commands) assert.match(written, new RegExp(`^  ${sub.name()}\\b`, 'm'), `${path.join(' ')} ${sub.name()}`);
    }
  });

  it('stops start-up on a bad setting, naming it', async () => {
    const home = await tempDir();
    try {
      const badPort = await runCli(['server', '--home', home.path], { MLOOP_PORT: 'seventy' });
      assert.equal(badPort.code, 2);
      assert.match(badPort.stderr, /MLOOP_PORT: expected a port number/);
      const badDb = await runCli(['server', '--home', home.path, '--database-url', 'mysql://x']);
      assert.equal(badDb.code, 2);
      assert.match(badDb.stderr, /--database-url: expected a postgres/);
    } finally {
      await home.cleanup();
    }
  });

  it('reports an unreachable server clearly, in JSON when asked', async () => {
    const result = await runCli(['experiments', 'list', '--url', 'http://127.0.0.1:9', '--json']);
    assert.equal(result.code, 1);
    const error = JSON.parse(result.stderr) as { error: { code: string; message: string } };
    assert.equal(error.error.code, 'UNREACHABLE');
    assert.match(error.error.message, /127\.0\.0\.1:9/);
  });
});

describe('mloop commands against a server', () => {
  let server: ServerProcess;
  let home: { path: string; cleanup(): Promise<void> };
  const cli = (...args: string[]) => runCli([...args, '--url', server.url]);
  const mlflow = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}/api/2.0/mlflow/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
    return response.json() as Promise<any>;
  };

  before(async () => {
    home = await tempDir();
    server = await spawnServer(['--home', home.path]);
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
    await home.cleanup();
  });

  it('creates, lists and shows experiments', async () => {
    const created = await cli('experiments', 'create', 'churn', '--tag', 'team=growth', '--json');
    assert.equal(created.code, 0, created.stderr);
    const experiment = JSON.parse(created.stdout);
    assert.equal(experiment.name, 'churn');
    const listed = JSON.parse((await cli('experiments', 'list', '--json')).stdout);
    assert.deepEqual(listed.experiments.map((e: { name: string }) => e.name).sort(), ['Default', 'churn']);
    const text = await cli('experiments', 'list');
    assert.match(text.stdout, /^ID\s+NAME/m);
    assert.match(text.stdout, /churn/);
    const shown = await cli('experiments', 'get', experiment.experiment_id);
    assert.match(shown.stdout, /team/);
    const duplicate = await cli('experiments', 'create', 'churn');
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /churn/);
  });

  it('lists and shows runs with their metrics', async () => {
    const { experiment_id } = await mlflow('experiments/create', { name: 'runs-cli' });
    const ids: string[] = [];
    for (const [i, rmse] of [0.5, 0.3, 0.4].entries()) {
      const { run } = await mlflow('runs/create', { experiment_id, run_name: `r${i}`, start_time: 1000 + i });
      await mlflow('runs/log-batch', {
        run_id: run.info.run_id,
        metrics: [{ key: 'rmse', value: rmse, timestamp: 1, step: 0 }],
        params: [{ key: 'lr', value: String(i) }],
      });
      ids.push(run.info.run_id);
    }
    const listed = await cli('runs', 'list', '-e', experiment_id, '--order-by', 'metrics.rmse ASC', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      JSON.parse(listed.stdout).runs.map((r: any) => r.info.run_id),
      [ids[1], ids[2], ids[0]],
    );
    const filtered = JSON.parse((await cli('runs', 'list', '-e', experiment_id, '--filter', 'metrics.rmse < 0.45', '--json')).stdout);
    assert.equal(filtered.runs.length, 2);
    const shown = await cli('runs', 'get', ids[0]);
    assert.match(shown.stdout, /rmse\s+0\.5/);
    const missing = await cli('runs', 'get', 'f'.repeat(32));
    assert.equal(missing.code, 1);
  });

  it('lists models, shows versions and moves aliases', async () => {
    const { experiment_id } = await mlflow('experiments/create', { name: 'models-cli' });
    const { run } = await mlflow('runs/create', { experiment_id });
    await mlflow('registered-models/create', { name: 'churn-model' });
    for (let i = 0; i < 2; i++) {
      await mlflow('model-versions/create', { name: 'churn-model', source: `runs:/${run.info.run_id}/model`, run_id: run.info.run_id });
    }
    const listed = JSON.parse((await cli('models', 'list', '--json')).stdout);
    assert.deepEqual(listed.models.map((m: { name: string }) => m.name), ['churn-model']);
    const set = await cli('models', 'alias', 'set', 'churn-model', 'champion', '2', '--json');
    assert.equal(set.code, 0, set.stderr);
    const got = JSON.parse((await cli('models', 'alias', 'get', 'churn-model', 'champion', '--json')).stdout);
    assert.equal(String(got.version), '2');
    const shown = await cli('models', 'get', 'churn-model');
    assert.match(shown.stdout, /champion->2/);
    assert.equal((await cli('models', 'alias', 'delete', 'churn-model', 'champion')).code, 0);
    const gone = await cli('models', 'alias', 'get', 'churn-model', 'champion', '--json');
    assert.equal(gone.code, 1);
    assert.equal(JSON.parse(gone.stderr).error.code, 'RESOURCE_DOES_NOT_EXIST');
  });
});

describe('mloop server lifecycle', () => {
  it('drains an in-flight request on SIGTERM, then exits 0', async () => {
    const home = await tempDir();
    try {
      const server = await spawnServer(['--home', home.path]);
      const url = new URL(`${server.url}/api/2.0/mlflow-artifacts/artifacts/0/slow/artifacts/file.bin`);
      const finished = new Promise<number>((resolve, reject) => {
        const req = request(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.write(Buffer.alloc(1024, 1));
        setTimeout(() => {
          server.child.kill('SIGTERM');
          setTimeout(() => req.end(Buffer.alloc(1024, 2)), 300);
        }, 200);
      });
      assert.equal(await finished, 200);
      const exit = await server.exited;
      assert.equal(exit.code, 0);
      assert.ok(server.logs.some((l) => l.msg === 'draining in-flight requests'));
      // What the drained request wrote is all there for the next life of the server.
      const again = await spawnServer(['--home', home.path]);
      try {
        const read = await fetch(`${again.url}${url.pathname}`);
        assert.equal(read.status, 200);
        assert.deepEqual(Buffer.from(await read.arrayBuffer()), Buffer.concat([Buffer.alloc(1024, 1), Buffer.alloc(1024, 2)]));
      } finally {
        again.child.kill('SIGTERM');
        await again.exited;
      }
    } finally {
      await home.cleanup();
    }
  });
});
