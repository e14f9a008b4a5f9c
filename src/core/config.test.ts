import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { loadServerConfig, parseSize, type ServerOptions } from './config.ts';
import { isMloopError } from './errors.ts';

/** Asserts that loading fails with INVALID_PARAMETER_VALUE naming exactly `names` (env vars or options). */
function assertBadConfig(options: ServerOptions, env: NodeJS.ProcessEnv, names: string[]): void {
  assert.throws(
    () => loadServerConfig(options, env),
    (error: unknown) => {
      assert.ok(isMloopError(error), `expected an MloopError, got ${String(error)}`);
      assert.equal(error.code, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(
        error.fields.map((f) => f.field).sort(),
        [...names].sort(),
      );
      for (const name of names) assert.ok(error.message.includes(name), `message names ${name}: ${error.message}`);
      return true;
    },
  );
}

describe('loadServerConfig', () => {
  it('has defaults for everything, and freezes the result', () => {
    const config = loadServerConfig({}, {});
    const home = resolve('.mloop');
    assert.deepEqual(config, {
      home,
      host: '127.0.0.1',
      port: 7070,
      metadata: { kind: 'sqlite', path: resolve(home, 'mloop.db'), synchronous: 'FULL' },
      artifacts: { kind: 'local', root: resolve(home, 'artifacts') },
      online: { kind: 'sqlite', path: resolve(home, 'online.db') },
      bodyLimitBytes: 16 * 1024 * 1024,
      maxArtifactBytes: 64 * 1024 ** 3,
      logLevel: 'info',
    });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.metadata));
    assert.ok(Object.isFrozen(config.artifacts));
    assert.ok(Object.isFrozen(config.online));
  });

  it('selects Redis for online features from MLOOP_REDIS_URL, and names a bad one', () => {
    assert.deepEqual(loadServerConfig({}, { MLOOP_REDIS_URL: 'redis://127.0.0.1:6379/2' }).online, { kind: 'redis', url: 'redis://127.0.0.1:6379/2' });
    assert.throws(() => loadServerConfig({}, { MLOOP_REDIS_URL: 'http://x' }), /MLOOP_REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('reads the environment', () => {
    const config = loadServerConfig(
      {},
      {
        MLOOP_HOME: '/srv/mloop',
        MLOOP_HOST: '0.0.0.0',
        MLOOP_PORT: '8080',
        MLOOP_LOG_LEVEL: 'debug',
        MLOOP_BODY_LIMIT: '1MiB',
        MLOOP_MAX_ARTIFACT_BYTES: '2GB',
        MLOOP_SQLITE_SYNCHRONOUS: 'NORMAL',
      },
    );
    assert.equal(config.home, '/srv/mloop');
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 8080);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.bodyLimitBytes, 1024 * 1024);
    assert.equal(config.maxArtifactBytes, 2e9);
    assert.deepEqual(config.metadata, { kind: 'sqlite', path: '/srv/mloop/mloop.db', synchronous: 'NORMAL' });
    assert.deepEqual(config.artifacts, { kind: 'local', root: '/srv/mloop/artifacts' });
  });

  it('lets command-line options win over the environment', () => {
    const env = { MLOOP_HOME: '/env/home', MLOOP_PORT: '8080', MLOOP_HOST: '10.0.0.1', MLOOP_DATABASE_URL: 'postgres://env/db' };
    const config = loadServerConfig({ home: '/opt/home', port: 9090, host: '127.0.0.2', databaseUrl: 'postgresql://opt/db' }, env);
    assert.equal(config.home, '/opt/home');
    assert.equal(config.port, 9090);
    assert.equal(config.host, '127.0.0.2');
    assert.deepEqual(config.metadata, { kind: 'postgres', url: 'postgresql://opt/db' });
    assert.equal(loadServerConfig({ port: '7171' }, env).port, 7171, 'a port given as a string');
  });

  it('ignores empty environment variables and undefined options', () => {
    const config = loadServerConfig({ port: undefined, home: undefined }, { MLOOP_PORT: '', MLOOP_HOME: '' });
    assert.equal(config.port, 7070);
    assert.equal(config.home, resolve('.mloop'));
  });

  it('refuses a bad port, naming the variable or option it came from', () => {
    for (const port of ['abc', '70000', '-1', '1.5', '80a']) {
      assertBadConfig({}, { MLOOP_PORT: port }, ['MLOOP_PORT']);
      assertBadConfig({ port }, {}, ['--port']);
    }
    assertBadConfig({ port: 65536 }, { MLOOP_PORT: '8080' }, ['--port']);
    assert.equal(loadServerConfig({ port: 0 }, {}).port, 0, 'port 0 asks for any free port');
  });

  it('refuses a bad URL, naming it', () => {
    assertBadConfig({}, { MLOOP_S3_ENDPOINT: 'not a url' }, ['MLOOP_S3_ENDPOINT']);
    assertBadConfig({}, { MLOOP_DATABASE_URL: 'mysql://db/x' }, ['MLOOP_DATABASE_URL']);
    assertBadConfig({}, { MLOOP_DATABASE_URL: 'db.sqlite' }, ['MLOOP_DATABASE_URL']);
    assertBadConfig({ databaseUrl: 'http://db' }, {}, ['--database-url']);
    assertBadConfig({ artifacts: 's3://Bad_Bucket/x' }, {}, ['--artifacts']);
    assertBadConfig({}, { MLOOP_ARTIFACTS: 'gs://bucket/x' }, ['MLOOP_ARTIFACTS']);
  });

  it('refuses a bad size, naming it', () => {
    for (const size of ['lots', '10 TB', '-5', '1e9']) {
      assertBadConfig({}, { MLOOP_BODY_LIMIT: size }, ['MLOOP_BODY_LIMIT']);
      assertBadConfig({}, { MLOOP_MAX_ARTIFACT_BYTES: size }, ['MLOOP_MAX_ARTIFACT_BYTES']);
    }
  });

  it('refuses other bad values, and reports every bad setting at once', () => {
    assertBadConfig({ logLevel: 'loud' }, {}, ['--log-level']);
    assertBadConfig({}, { MLOOP_SQLITE_SYNCHRONOUS: 'OFF' }, ['MLOOP_SQLITE_SYNCHRONOUS']);
    assertBadConfig({}, { MLOOP_S3_FORCE_PATH_STYLE: 'maybe' }, ['MLOOP_S3_FORCE_PATH_STYLE']);
    assertBadConfig({ host: '' }, {}, ['--host']);
    assertBadConfig({ logLevel: 'loud' }, { MLOOP_PORT: 'x', MLOOP_BODY_LIMIT: 'big' }, ['--log-level', 'MLOOP_PORT', 'MLOOP_BODY_LIMIT']);
  });

  it('selects PostgreSQL for a postgres:// or postgresql:// URL', () => {
    for (const url of ['postgres://mloop:secret@db.internal:5432/mloop', 'postgresql://localhost/mloop?sslmode=require']) {
      const config = loadServerConfig({}, { MLOOP_DATABASE_URL: url });
      assert.deepEqual(config.metadata, { kind: 'postgres', url });
    }
  });

  it('parses s3://bucket/prefix, with the S3 settings from the environment', () => {
    const config = loadServerConfig(
      {},
      {
        MLOOP_ARTIFACTS: 's3://my-bucket.v2/some/prefix/',
        MLOOP_S3_ENDPOINT: 'http://127.0.0.1:9000',
        MLOOP_S3_REGION: 'eu-west-1',
        AWS_REGION: 'us-west-2',
        AWS_ACCESS_KEY_ID: 'AKIA',
        AWS_SECRET_ACCESS_KEY: 'shh',
      },
    );
    assert.deepEqual(config.artifacts, {
      kind: 's3',
      bucket: 'my-bucket.v2',
      prefix: 'some/prefix',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      accessKeyId: 'AKIA',
      secretAccessKey: 'shh',
    });
  });

  it('parses s3://bucket without a prefix; path style only for a custom endpoint unless told', () => {
    const aws = loadServerConfig({ artifacts: 's3://bucket' }, { AWS_REGION: 'us-west-2' });
    assert.deepEqual(aws.artifacts, {
      kind: 's3',
      bucket: 'bucket',
      prefix: '',
      endpoint: undefined,
      region: 'us-west-2',
      forcePathStyle: false,
      accessKeyId: undefined,
      secretAccessKey: undefined,
    });
    const told = loadServerConfig(
      { artifacts: 's3://bucket/p' },
      { MLOOP_S3_ENDPOINT: 'https://s3.example.com', MLOOP_S3_FORCE_PATH_STYLE: 'false', MLOOP_S3_ACCESS_KEY_ID: 'mine', AWS_ACCESS_KEY_ID: 'theirs' },
    );
    assert.equal(told.artifacts.kind === 's3' && told.artifacts.forcePathStyle, false);
    assert.equal(told.artifacts.kind === 's3' && told.artifacts.accessKeyId, 'mine');
  });

  it('takes a directory or a file:// URL for local artifacts', () => {
    assert.deepEqual(loadServerConfig({ artifacts: 'rel/dir' }, {}).artifacts, { kind: 'local', root: resolve('rel/dir') });
    assert.deepEqual(loadServerConfig({ artifacts: '/abs/dir' }, {}).artifacts, { kind: 'local', root: '/abs/dir' });
    assert.deepEqual(loadServerConfig({}, { MLOOP_ARTIFACTS: 'file:///srv/artifacts' }).artifacts, { kind: 'local', root: '/srv/artifacts' });
    assert.deepEqual(loadServerConfig({}, { MLOOP_ARTIFACTS: 'file:///srv/my%20artifacts' }).artifacts, {
      kind: 'local',
      root: '/srv/my artifacts',
    });
  });
});

describe('parseSize', () => {
  it('reads bytes and decimal or binary units, case-insensitively', () => {
    const cases: [string, number][] = [
      ['0', 0],
      ['1048576', 1048576],
      ['512b', 512],
      ['1kb', 1000],
      ['1KiB', 1024],
      ['1.5KiB', 1536],
      ['16MiB', 16 * 1024 * 1024],
      ['16 MB', 16e6],
      ['2GiB', 2 * 1024 ** 3],
      ['2gb', 2e9],
    ];
    for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
  });

  it('throws on text that is not a size', () => {
    for (const bad of ['', 'MiB', '1 PB', '1..2', 'ten']) assert.throws(() => parseSize(bad), RangeError, bad);
  });
});
