/** `mloop data add|list|get|profile|download|delete|validate|validations|diff|schema`: dataset versions. */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { MloopError } from '../../core/errors.ts';
import type { ColumnProfile, DataFormat, DatasetProfile, DatasetVersion } from '../../data/domain.ts';
import type { DatasetDiffResult, DatasetValidationReport } from '../../sdk/client.ts';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import type { ClientOptions } from './options.ts';

/** `name` or `name@version` from the command line. */
function splitRef(text: string, defaultVersion = 'latest'): { name: string; version: string } {
  const at = text.lastIndexOf('@');
  return at === -1 ? { name: text, version: defaultVersion } : { name: text.slice(0, at), version: text.slice(at + 1) || defaultVersion };
}

function parseFormatOption(value: string): DataFormat {
  if (value === 'csv' || value === 'parquet' || value === 'jsonl') return value;
  throw new InvalidArgumentError(`--format expects csv, parquet or jsonl, got "${value}"`);
}

/** The format of a file from its extension. */
export function formatFromFileName(file: string): DataFormat | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}

/** Reads a YAML or JSON document (YAML is a superset of JSON). */
async function readDocument(file: string, what: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw usage(`cannot read ${what} file ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    throw usage(`${what} file ${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** A bad argument found while running a command (commander only reports those found while parsing). */
function usage(message: string): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', message);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Progress of a byte transfer on stderr: a bar on a terminal, a plain line every 25% otherwise, and
 * nothing for `--json` runs that are not on a terminal.
 */
class ByteProgress {
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #total: number;
  readonly #label: string;
  readonly #plain: boolean;
  #done = 0;
  #nextLine = 0.25;
  #stopped = false;

  constructor(label: string, total: number, quiet: boolean) {
    this.#label = label;
    this.#total = total;
    const tty = process.stderr.isTTY === true;
    this.#plain = !tty && !quiet;
    if (tty) {
      this.#bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% | {done} of {size} | {eta_formatted}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(total, 0, { done: mib(0), size: mib(total) });
    } else if (this.#plain) process.stderr.write(`${label}: ${mib(total)}\n`);
  }

  /** A pass-through stream that reports the bytes flowing through it; `then` is shown once they all have. */
  counter(then?: string): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.add(chunk.length);
        callback(null, chunk);
      },
      flush: (callback) => {
        if (then) this.stop(then);
        callback();
      },
    });
  }

  add(bytes: number): void {
    this.#done += bytes;
    this.#bar?.update(this.#done, { done: mib(this.#done) });
    if (this.#plain && this.#total > 0) {
      while (this.#done / this.#total >= this.#nextLine && this.#nextLine <= 1) {
        process.stderr.write(`${this.#label}: ${Math.round(this.#nextLine * 100)}%\n`);
        this.#nextLine += 0.25;
      }
    }
  }

  stop(message?: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#bar?.stop();
    if (message && (this.#plain || this.#bar)) process.stderr.write(`${message}\n`);
  }
}

function short(version: string): string {
  return version.slice(0, 12);
}

function fmt(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (value === undefined || value === null) return '';
  return String(value);
}

function renderVersion(v: DatasetVersion): string {
  const head = keyValues({
    dataset: v.dataset,
    version: v.version,
    created: new Date(v.created_at).toISOString(),
    created_by: v.created_by,
    rows: v.row_count,
    columns: v.column_count,
    size: `${v.size_bytes} bytes`,
    source: [v.source.format, v.source.name].filter(Boolean).join(' '),
    parents: v.lineage.parents.map((p) => `${p.name}@${short(p.version)}`).join(', '),
    transformation: v.lineage.transformation ? v.lineage.transformation.kind : '',
    validation: v.validation.status,
  });
  const schema = table(
    v.schema.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable ? 'yes' : 'no', tags: c.tags.join(',') })),
    ['name', 'type', 'nullable', 'tags'],
  );
  return `${head}\n\nSCHEMA\n${schema}${v.profile ? `\n\nPROFILE\n${renderProfile(v.profile)}` : ''}`;
}

function renderProfile(p: DatasetProfile): string {
  const rows = p.columns.map((c: ColumnProfile) => ({
    column: c.name,
    type: c.type,
    nulls: c.nulls,
    distinct: c.distinct,
    min: fmt(c.min),
    p50: fmt(c.quantiles?.p50),
    max: fmt(c.max),
    mean: fmt(c.mean),
    std: fmt(c.std),
    top: (c.top ?? []).slice(0, 3).map((t) => `${t.value}(${t.count})`).join(' '),
  }));
  return `${p.row_count} rows${p.exact ? '' : ' (estimates for large columns)'}\n${table(rows, ['column', 'type', 'nulls', 'distinct', 'min', 'p50', 'max', 'mean', 'std', 'top'])}`;
}

function renderReport(r: DatasetValidationReport): string {
  const rows = r.results.map((x) => ({ rule: x.name, severity: x.severity, result: x.passed ? 'pass' : 'FAIL', failing: x.failing_count ?? '', message: x.message }));
  return `${r.dataset}@${short(r.version)}: ${r.status.toUpperCase()} (${r.summary.passed}/${r.summary.rules} rules passed)\n${table(rows, ['rule', 'severity', 'result', 'failing', 'message'])}`;
}

function renderDiff(d: DatasetDiffResult): string {
  const lines = [
    `${d.base.dataset}@${short(d.base.version)} → ${d.target.dataset}@${short(d.target.version)}${d.identical ? ' (identical)' : ''}`,
    `rows: ${d.row_count.base} → ${d.row_count.target} (${d.row_count.change >= 0 ? '+' : ''}${d.row_count.change})`,
  ];
  for (const c of d.schema.added) lines.push(`+ column ${c.name} (${c.type})`);
  for (const c of d.schema.removed) lines.push(`- column ${c.name} (${c.type})`);
  for (const c of d.schema.changed) {
    const parts = [c.type ? `type ${c.type.from}→${c.type.to}` : '', c.nullable ? `nullable ${c.nullable.from}→${c.nullable.to}` : '', c.tags ? `tags +[${c.tags.added}] -[${c.tags.removed}]` : ''];
    lines.push(`~ column ${c.name}: ${parts.filter(Boolean).join(', ')}`);
  }
  const rows = d.columns.map((c) => ({
    column: c.name,
    kind: c.kind,
    psi: fmt(c.psi),
    ks: fmt(c.ks),
    js_distance: fmt(c.js_distance),
    total_variation: fmt(c.total_variation),
    null_fraction: `${fmt(c.null_fraction.base)}→${fmt(c.null_fraction.target)}`,
  }));
  return `${lines.join('\n')}\n\n${table(rows, ['column', 'kind', 'psi', 'ks', 'js_distance', 'total_variation', 'null_fraction'])}`;
}

/** Registers `mloop data ...`. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('datasets: versioned by content, profiled and validated');

  withClientOptions(data.command('add'))
    .description('upload a CSV, Parquet or JSON Lines file as a version of a dataset (same content, same version)')
    .argument('<name>', 'dataset name')
    .argument('<file>', 'the data file')
    .option('--format <format>', 'csv, parquet or jsonl (default: from the file extension)', parseFormatOption)
    .option('--schema <file>', 'declared schema, YAML or JSON: columns with type, nullable, tags')
    .option('--description <text>', 'what this version is')
    .action(async (name: string, file: string, options: ClientOptions & { format?: DataFormat; schema?: string; description?: string }) => {
      const format = options.format ?? formatFromFileName(file);
      if (!format) throw usage(`cannot tell the format of ${file} from its extension; give --format csv|parquet|jsonl`);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw usage(`no such file: ${file}`);
      const schema = options.schema ? await readDocument(options.schema, 'schema') : undefined;
      const progress = new ByteProgress(`uploading ${basename(file)}`, info.size, options.json === true);
      const body = createReadStream(file).pipe(progress.counter('uploaded; the server is converting and profiling it'));
      let result;
      try {
        result = await clientOf(options).addDatasetVersion(name, body, { format, schema, source: basename(file), description: options.description, size: info.size });
      } finally {
        progress.stop();
      }
      print(result, options, (r) =>
        `${r.created ? 'created' : 'unchanged (already a version)'} ${r.version.dataset}@${short(r.version.version)}: ${r.version.row_count} rows, ${r.version.column_count} columns\nversion ${r.version.version}`,
      );
    });

  withClientOptions(data.command('list'))
    .description('list datasets, or the versions of one dataset')
    .argument('[name]', 'dataset name')
    .action(async (name: string | undefined, options: ClientOptions) => {
      const client = clientOf(options);
      if (name === undefined) {
        const { datasets } = await client.listDatasets();
        print({ datasets }, options, (d) =>
          table(
            d.datasets.map((x) => ({ name: x.name, versions: x.version_count, latest: x.latest_version ? short(x.latest_version) : '', updated: new Date(x.updated_at).toISOString() })),
            ['name', 'versions', 'latest', 'updated'],
          ),
        );
        return;
      }
      const { versions } = await client.listDatasetVersions(name);
      print({ versions }, options, (d) =>
        table(
          d.versions.map((v) => ({
            version: short(v.version),
            created: new Date(v.created_at).toISOString(),
            rows: v.row_count,
            columns: v.column_count,
            source: v.source.name ?? v.source.format,
            validation: v.validation.status,
          })),
          ['version', 'created', 'rows', 'columns', 'source', 'validation'],
        ),
      );
    });

  withClientOptions(data.command('get'))
    .description('show a version: metadata, schema, lineage, validation state and profile')
    .argument('<ref>', 'NAME[@VERSION] (version: sha256, prefix or latest)')
    .option('--no-profile', 'leave the profile out')
    .action(async (ref: string, options: ClientOptions & { profile: boolean }) => {
      const { name, version } = splitRef(ref);
      const v = await clientOf(options).getDatasetVersion(name, version, { profile: options.profile });
      print(v, options, renderVersion);
    });

  withClientOptions(data.command('profile'))
    .description('show the profile of a version: nulls, distinct values, quantiles, histograms, top values')
    .argument('<ref>', 'NAME[@VERSION]')
    .action(async (ref: string, options: ClientOptions) => {
      const { name, version } = splitRef(ref);
      print(await clientOf(options).getDatasetProfile(name, version), options, renderProfile);
    });

  withClientOptions(data.command('download'))
    .description('download a version as Parquet or CSV')
    .argument('<ref>', 'NAME[@VERSION]')
    .option('-o, --output <file>', 'where to write (default: NAME-VERSION.parquet|csv)')
    .option('--format <format>', 'parquet or csv', (v: string) => {
      if (v !== 'parquet' && v !== 'csv') throw new InvalidArgumentError(`--format expects parquet or csv, got "${v}"`);
      return v;
    })
    .action(async (ref: string, options: ClientOptions & { output?: string; format?: 'parquet' | 'csv' }) => {
      const { name, version } = splitRef(ref);
      const format = options.format ?? 'parquet';
      const response = await clientOf(options).downloadDatasetVersion(name, version, format);
      const fileName = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `${name}.${format}`;
      const output = options.output ?? fileName;
      const size = Number(response.headers.get('content-length') ?? 0);
      const progress = new ByteProgress(`downloading ${fileName}`, size, options.json === true);
      const partial = `${output}.partial`;
      try {
        await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), progress.counter(), createWriteStream(partial));
        await rename(partial, output);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      } finally {
        progress.stop();
      }
      print({ file: output, bytes: size, format }, options, (r) => `wrote ${r.file} (${r.bytes} bytes)`);
    });

  withClientOptions(data.command('delete'))
    .description('delete a version, or with --all every version of a dataset (refused while something depends on it)')
    .argument('<ref>', 'NAME@VERSION, or NAME with --all')
    .option('--all', 'delete the whole dataset')
    .action(async (ref: string, options: ClientOptions & { all?: boolean }) => {
      const client = clientOf(options);
      const at = ref.lastIndexOf('@');
      if (options.all) {
        if (at !== -1) throw usage('--all deletes a whole dataset: give NAME without @VERSION');
        const result = await client.deleteDataset(ref);
        print(result, options, (r) => `deleted dataset ${ref} (${r.deleted_versions} versions)`);
        return;
      }
      if (at === -1) throw usage('name the version to delete (NAME@VERSION), or give --all to delete the dataset');
      const { name, version } = splitRef(ref);
      const result = await client.deleteDatasetVersion(name, version);
      print(result, options, (r) => `deleted ${name}@${r.version}`);
    });

  withClientOptions(data.command('validate'))
    .description('run validation rules (YAML or JSON) on a version and store the report; exits 1 when an error rule fails')
    .argument('<ref>', 'NAME[@VERSION]')
    .requiredOption('--rules <file>', 'rules file, YAML or JSON')
    .action(async (ref: string, options: ClientOptions & { rules: string }) => {
      const { name, version } = splitRef(ref);
      const rules = await readDocument(options.rules, 'rules');
      const report = await clientOf(options).validateDataset(name, version, rules);
      print(report, options, renderReport);
      if (report.status === 'failed') process.exitCode = 1;
    });

  const validations = data.command('validations').description('the validation reports of a version: list them, or retract one (a wrong rule, rules run by mistake)');

  withClientOptions(validations.command('list'))
    .description('validation reports of a version, newest first, with the validation state they make')
    .argument('<ref>', 'NAME[@VERSION]')
    .action(async (ref: string, options: ClientOptions) => {
      const { name, version } = splitRef(ref);
      const client = clientOf(options);
      const state = await client.getDatasetVersion(name, version, { profile: false });
      const listed = await client.listDatasetValidations(name, state.version);
      print({ dataset: name, version: state.version, validation: state.validation, ...listed }, options, (r) => {
        const rows = r.validations.map((v) => ({
          id: v.id,
          evaluated: new Date(v.evaluated_at).toISOString(),
          by: v.evaluated_by,
          rules: short(v.rules_sha256),
          status: v.status,
          passed: `${v.summary.passed}/${v.summary.rules}`,
        }));
        return `${r.dataset}@${short(r.version)}: ${r.validation.status}\n${table(rows, ['id', 'evaluated', 'by', 'rules', 'status', 'passed'])}`;
      });
    });

  withClientOptions(validations.command('delete'))
    .description("retract a validation report: the version's state is worked out again from the reports left (a rules set's previous report is its verdict again)")
    .argument('<ref>', 'NAME@VERSION')
    .argument('<id>', 'the report id (see `mloop data validations list`)')
    .action(async (ref: string, id: string, options: ClientOptions) => {
      if (ref.lastIndexOf('@') === -1) throw usage('name the version the report is of (NAME@VERSION)');
      const { name, version } = splitRef(ref);
      const result = await clientOf(options).deleteDatasetValidation(name, version, id);
      print(result, options, (r) => `deleted validation report ${r.deleted} of ${r.dataset}@${short(r.version)}; its validation state is now ${r.validation.status}`);
    });

  withClientOptions(data.command('diff'))
    .description('compare two versions: schema, row count, per-column PSI and KS (numeric), Jensen-Shannon and total variation (categorical)')
    .argument('<base>', 'NAME@VERSION (the reference)')
    .argument('<target>', 'NAME@VERSION, or VERSION of the same dataset')
    .action(async (baseText: string, targetText: string, options: ClientOptions) => {
      const base = splitRef(baseText);
      const target = targetText.includes('@') ? splitRef(targetText) : { name: base.name, version: targetText };
      const diff = await clientOf(options).diffDatasetVersions(target.name, target.version, `${base.name}@${base.version}`);
      print(diff, options, renderDiff);
    });

  withClientOptions(data.command('schema'))
    .description('show, set (--set FILE) or clear (--clear) the schema declared for later uploads of a dataset')
    .argument('<name>', 'dataset name')
    .option('--set <file>', 'schema file, YAML or JSON')
    .option('--clear', 'remove the declared schema')
    .action(async (name: string, options: ClientOptions & { set?: string; clear?: boolean }) => {
      const client = clientOf(options);
      let schema: unknown;
      if (options.set) schema = (await client.setDatasetSchema(name, await readDocument(options.set, 'schema'))).schema;
      else if (options.clear) schema = (await client.request<{ schema: unknown }>('DELETE', `/datasets/${encodeURIComponent(name)}/schema`)).schema;
      else schema = (await client.request<{ schema: unknown }>('GET', `/datasets/${encodeURIComponent(name)}/schema`)).schema;
      print({ schema }, options, (r) => (r.schema ? JSON.stringify(r.schema, null, 2) : '(no declared schema)'));
    });
}
