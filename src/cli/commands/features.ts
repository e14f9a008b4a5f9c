/** `mloop features ...`: definitions, retrieval, materialization, online reads, push, skew, impact. */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { FeatureProgress, MloopApi } from '../../sdk/client.ts';
import { parseCsv } from '../../core/csv.ts';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { formatFromFileName } from './data.ts';
import { parseIntOption, type ClientOptions } from './options.ts';

const KINDS = ['entity', 'feature_view', 'on_demand_feature_view', 'feature_service'];

/** Reads rows from a `.jsonl`, `.json` (array of objects) or `.csv` file. */
export async function readRows(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) throw new InvalidArgumentError(`${path}: expected a JSON array of objects`);
    return parsed as Record<string, unknown>[];
  }
  if (ext === '.jsonl' || ext === '.ndjson') {
    return text.split('\n').filter((l) => l.trim() !== '').map((line, i) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new InvalidArgumentError(`${path}: line ${i + 1} is not JSON`);
      }
    });
  }
  if (ext === '.csv') {
    const [names, ...records] = parseCsv(text, path);
    if (!names) return [];
    return records.map(({ fields, line }) => {
      if (fields.length !== names.fields.length) throw new InvalidArgumentError(`${path}: line ${line} has ${fields.length} fields, the header ${names.fields.length}`);
      return Object.fromEntries(names.fields.map((n, c) => [n ?? '', fields[c] === null ? null : parseCell(fields[c]!)]));
    });
  }
  throw new InvalidArgumentError(`${path}: expected a .jsonl, .json or .csv file`);
}

function parseCell(cell: string): unknown {
  if (cell === '') return '';
  if (/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(cell)) return Number(cell);
  if (cell === 'true' || cell === 'false') return cell === 'true';
  return cell;
}

/** Parses `--entity driver_id=1001,city=Paris` into a row (numbers and booleans typed). */
function parseEntity(text: string, rows: Record<string, unknown>[] = []): Record<string, unknown>[] {
  const row: Record<string, unknown> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`--entity expects key=value[,key=value], got "${text}"`);
    row[pair.slice(0, at)] = parseCell(pair.slice(at + 1));
  }
  return [...rows, row];
}

/**
 * Entity rows of a retrieval from a file. CSV, JSON Lines and Parquet are added (streamed, never read
 * whole) as a version of dataset `dataset`, which the retrieval then reads — and which becomes a
 * parent of the training set; a JSON array is read and sent with the request.
 */
async function entityInput(client: MloopApi, file: string, dataset: string): Promise<{ entity_rows?: Record<string, unknown>[]; entity_dataset?: string }> {
  const format = formatFromFileName(file);
  if (!format) return { entity_rows: await readRows(file) };
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new InvalidArgumentError(`no such file: ${file}`);
  const added = await client.addDatasetVersion(dataset, createReadStream(file), { format, source: basename(file), size: info.size });
  return { entity_dataset: `${dataset}@${added.version.version}` };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Renders progress on stderr: a rewritten line on a terminal, one line per step otherwise. */
function progressPrinter(): (p: FeatureProgress) => void {
  return (p) => {
    const text = `${p.view ? `${p.view}: ` : ''}${p.phase}${p.total > 0 ? ` ${p.done}/${p.total}` : ''}`;
    if (process.stderr.isTTY) process.stderr.write(`\r\u001b[K${text}${p.done >= p.total ? '\n' : ''}`);
    else process.stderr.write(`${text}\n`);
  };
}

function selector(options: { service?: string; feature?: string[]; fullNames?: boolean }) {
  if ((options.service === undefined) === (options.feature === undefined)) throw new InvalidArgumentError('give --service NAME or --feature VIEW:FEATURE (repeatable)');
  return { feature_service: options.service, features: options.feature, full_feature_names: options.fullNames };
}

/** Registers `mloop features ...`. */
export function registerFeatureCommands(program: Command): void {
  const features = program.command('features').description('the feature store: definitions, training sets, online features');

  withClientOptions(features.command('apply'))
    .description('apply a definitions file (YAML): entities, feature views, on-demand views, services')
    .argument('<file>', 'definitions YAML')
    .action(async (file: string, options: ClientOptions) => {
      const result = await clientOf(options).applyFeatures(await readFile(file, 'utf8'));
      print(result, options, (r) => table(r.results.map((x) => ({ ...x, version: x.version.slice(0, 12) })), ['kind', 'name', 'version', 'status']));
    });

  withClientOptions(features.command('list'))
    .description('list the current feature definitions')
    .option('--kind <kind>', `one of ${KINDS.join(', ')}`)
    .action(async (options: ClientOptions & { kind?: string }) => {
      const result = await clientOf(options).listFeatureDefinitions(options.kind);
      print(result, options, (r) =>
        table(
          r.definitions.map((d) => ({ kind: d.kind, name: d.name, version: d.version.slice(0, 12), created: new Date(d.created_at).toISOString(), owner: d.spec.owner })),
          ['kind', 'name', 'version', 'created', 'owner'],
        ),
      );
    });

  withClientOptions(features.command('get'))
    .description('show one feature definition')
    .argument('<kind>', KINDS.join('|'))
    .argument('<name>', 'its name')
    .option('--version <sha>', 'a version (sha256 or prefix); the current one by default')
    .action(async (kind: string, name: string, options: ClientOptions & { version?: string }) => {
      const def = await clientOf(options).getFeatureDefinition(kind, name, options.version);
      print(def, options, (d) => keyValues({ kind: d.kind, name: d.name, version: d.version, current: d.current, created: new Date(d.created_at).toISOString(), refs: d.refs, spec: d.spec }));
    });

  withClientOptions(features.command('versions'))
    .description('list every version of a feature definition')
    .argument('<kind>', KINDS.join('|'))
    .argument('<name>', 'its name')
    .action(async (kind: string, name: string, options: ClientOptions) => {
      const result = await clientOf(options).listFeatureDefinitionVersions(kind, name);
      print(result, options, (r) => table(r.versions.map((v) => ({ version: v.version, created: new Date(v.created_at).toISOString(), current: v.current ? '*' : '' })), ['version', 'created', 'current']));
    });

  withClientOptions(features.command('materialize'))
    .description('write the latest feature values into the online store (progress on stderr)')
    .option('--start <time>', 'event-time start (ISO 8601 or epoch ms), exclusive')
    .option('--end <time>', "event-time end, inclusive (default: the server's now)")
    .option('--incremental', 'start from the end of the last run of each view')
    .option('--view <name>', 'a feature view (repeatable; default: all)', collect)
    .action(async (options: ClientOptions & { start?: string; end?: string; incremental?: boolean; view?: string[] }) => {
      const time = (t: string | undefined) => (t === undefined ? undefined : /^\d+$/.test(t) ? Number(t) : t);
      const result = await clientOf(options).materializeFeatures(
        { views: options.view, start: time(options.start), end: time(options.end), incremental: options.incremental },
        progressPrinter(),
      );
      print(result, options, (r) =>
        table(
          r.views.map((v) => ({ ...v, start: v.start === null ? '' : new Date(v.start as number).toISOString(), end: new Date(v.end as number).toISOString(), version: String(v.version).slice(0, 12) })),
          ['view', 'version', 'start', 'end', 'entities', 'written', 'skipped'],
        ),
      );
    });

  withClientOptions(features.command('retrieve'))
    .description('point-in-time join of features onto entity rows, saved as a dataset version')
    .option('--service <name>', 'a feature service')
    .option('--feature <view:feature>', 'a feature (repeatable)', collect)
    .option('--entities <file>', 'entity rows: .csv, .jsonl or .parquet (added as a dataset version, streamed) or .json, with keys, event time and labels')
    .option('--entities-as <dataset>', 'dataset the --entities file is added to (default: the saved dataset\'s name + "-entities")')
    .option('--entity-dataset <name[@version]>', 'or a dataset of entity rows')
    .option('--timestamp-column <name>', 'event-time column of the entity rows', 'event_timestamp')
    .option('--save-as <dataset>', 'dataset to save the result as')
    .option('--rows <n>', 'print up to n result rows', parseIntOption('--rows'))
    .option('--full-names', 'name columns view__feature')
    .action(async (options: ClientOptions & { service?: string; feature?: string[]; entities?: string; entitiesAs?: string; entityDataset?: string; timestampColumn: string; saveAs?: string; rows?: number; fullNames?: boolean }) => {
      if ((options.entities === undefined) === (options.entityDataset === undefined)) throw new InvalidArgumentError('give --entities FILE or --entity-dataset NAME[@VERSION]');
      const selected = selector(options);
      const client = clientOf(options);
      const saveAs = options.saveAs ?? `features-${options.service ?? 'adhoc'}`;
      const entities = options.entities ? await entityInput(client, options.entities, options.entitiesAs ?? `${saveAs}-entities`) : { entity_dataset: options.entityDataset };
      const body = {
        ...selected,
        ...entities,
        timestamp_column: options.timestampColumn,
        save_as: saveAs,
        return_rows: options.rows,
      };
      const result = (await client.retrieveFeatures(body, progressPrinter())) as { dataset: { name: string; version: string }; row_count: number; rows?: object[]; columns: string[] };
      print(result, options, (r) => {
        const head = `saved ${r.row_count} rows as ${r.dataset.name}@${r.dataset.version}`;
        return r.rows ? `${head}\n${table(r.rows, r.columns)}` : head;
      });
    });

  withClientOptions(features.command('online'))
    .description('read online feature values for entities')
    .option('--service <name>', 'a feature service')
    .option('--feature <view:feature>', 'a feature (repeatable)', collect)
    .option('--entity <key=value,...>', 'one entity row with its keys and request fields (repeatable)', parseEntity)
    .option('--full-names', 'name features view__feature')
    .action(async (options: ClientOptions & { service?: string; feature?: string[]; entity?: Record<string, unknown>[]; fullNames?: boolean }) => {
      if (!options.entity || options.entity.length === 0) throw new InvalidArgumentError('give at least one --entity key=value');
      const result = await clientOf(options).getOnlineFeatures({ ...selector(options), entity_rows: options.entity });
      print(result, options, (r) =>
        r.results
          .map((row) => `${JSON.stringify(row.entity)}\n${table(r.feature_names.map((f) => ({ feature: f, value: row.values[f], status: row.statuses[f], event_timestamp: row.event_timestamps[f] })), ['feature', 'value', 'status', 'event_timestamp'])}`)
          .join('\n\n'),
      );
    });

  withClientOptions(features.command('push'))
    .description('push source rows of a feature view to the online (and/or offline) store')
    .argument('<view>', 'feature view')
    .argument('<file>', 'rows: .jsonl, .json or .csv')
    .option('--to <where>', 'online, offline or online_and_offline', 'online')
    .action(async (view: string, file: string, options: ClientOptions & { to: 'online' | 'offline' | 'online_and_offline' }) => {
      const result = await clientOf(options).pushFeatures({ feature_view: view, rows: await readRows(file), to: options.to });
      print(result, options, (r) => keyValues(r));
    });

  withClientOptions(features.command('skew'))
    .description('compare logged serving values with an offline recomputation; per-feature mismatch rates')
    .option('--service <name>', 'a feature service')
    .option('--feature <view:feature>', 'a feature (repeatable)', collect)
    .option('--logged-dataset <name[@version]>', 'dataset of logged features (keys, event time, feature columns)')
    .option('--logged <file>', 'or a file of logged rows (.jsonl, .json, .csv)')
    .option('--timestamp-column <name>', 'event-time column', 'event_timestamp')
    .option('--tolerance <x>', 'relative tolerance for numbers (default 0: exact)', Number)
    .action(async (options: ClientOptions & { service?: string; feature?: string[]; loggedDataset?: string; logged?: string; timestampColumn: string; tolerance?: number }) => {
      if ((options.logged === undefined) === (options.loggedDataset === undefined)) throw new InvalidArgumentError('give --logged-dataset NAME[@VERSION] or --logged FILE');
      const result = await clientOf(options).checkFeatureSkew({
        ...selector(options),
        logged_dataset: options.loggedDataset,
        logged_rows: options.logged ? await readRows(options.logged) : undefined,
        timestamp_column: options.timestampColumn,
        tolerance: options.tolerance,
      });
      print(result, options, (r) => table(r.features.map((f) => ({ ...f, mismatch_rate: f.mismatch_rate.toFixed(4) })), ['feature', 'compared', 'mismatches', 'mismatch_rate']));
    });

  withClientOptions(features.command('link'))
    .description('record that a model version consumes a feature service')
    .requiredOption('--model <name>', 'registered model')
    .requiredOption('--model-version <n>', 'model version')
    .requiredOption('--service <name>', 'feature service')
    .action(async (options: ClientOptions & { model: string; modelVersion: string; service: string }) => {
      const result = await clientOf(options).linkFeatureConsumer({ model: options.model, version: options.modelVersion, feature_service: options.service });
      print(result, options, (r) => keyValues(r));
    });

  withClientOptions(features.command('impact'))
    .description('list what consumes a feature view: services, on-demand views, model versions, training sets (and deployments, once served)')
    .argument('<view>', 'feature view')
    .action(async (view: string, options: ClientOptions) => {
      const result = await clientOf(options).featureImpact(view);
      print(result, options, (r) => table(r.consumers.map((c) => ({ kind: c.kind, id: c.id, depth: c.depth, via: `${c.via.kind} ${c.via.id} (${c.via.relation})` })), ['kind', 'id', 'depth', 'via']));
    });
}
