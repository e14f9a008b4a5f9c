/**
 * What the training, tuning and evaluation commands share: parsers of option values, request documents
 * read from YAML or JSON files, and jobs waited on with progress on stderr (a bar on a terminal, a plain
 * line per tenth otherwise, nothing for `--json` off a terminal).
 */
import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { MloopError } from '../../core/errors.ts';
import type { Job } from '../../jobs/domain.ts';
import type { MloopApi } from '../../sdk/client.ts';
import { table } from '../output.ts';

/** An error in what the command line gave (`INVALID_PARAMETER_VALUE`, reported like a bad request). */
export function usage(message: string): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', message);
}

/** A commander reducer collecting a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A commander parser for a comma-separated list. */
export function list(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** A commander parser for a finite number. */
export function numberOption(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got "${value}"`);
    return n;
  };
}

/** A commander parser for an integer ≥ 0 (seeds, resample counts). */
export function nonNegativeInt(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} expects an integer ≥ 0, got "${value}"`);
    return Number(value);
  };
}

/** Reads a YAML or JSON file holding an object (a request spec, a gate, a card spec). */
export async function readDocument(file: string, what: string): Promise<Record<string, unknown>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw usage(`cannot read ${what} file ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  let doc: unknown;
  try {
    doc = parseYaml(text) as unknown;
  } catch (error) {
    throw usage(`${what} file ${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw usage(`${what} file ${file} must hold an object`);
  return doc as Record<string, unknown>;
}

/** Progress of a job on stderr. */
class JobProgress {
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #plain: boolean;
  #tenth = -1;

  constructor(label: string, quiet: boolean) {
    const tty = process.stderr.isTTY === true;
    this.#plain = !tty && !quiet;
    if (tty) {
      this.#bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% | {message}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(100, 0, { message: 'queued' });
    } else if (this.#plain) process.stderr.write(`${label}\n`);
  }

  update(job: Job): void {
    const pct = Math.round(job.progress * 100);
    this.#bar?.update(pct, { message: (job.message ?? job.status).slice(0, 60) });
    const tenth = Math.floor(job.progress * 10);
    if (this.#plain && (tenth > this.#tenth || job.status !== 'RUNNING')) {
      if (job.status === 'RUNNING' || job.status === 'QUEUED') process.stderr.write(`${pct}% ${job.message ?? job.status}\n`);
      this.#tenth = tenth;
    }
  }

  stop(job: Job): void {
    this.#bar?.stop();
    if (this.#plain || this.#bar) process.stderr.write(`${job.status.toLowerCase()}${job.error ? `: ${job.error.message}` : ''}\n`);
  }
}

/** Waits for a job with progress; throws when it did not succeed. */
export async function waitWithProgress(client: MloopApi, job: Job, label: string, json: boolean | undefined): Promise<Job> {
  const progress = new JobProgress(label, json === true);
  const done = await client.waitForJob(job.id, { onProgress: (j) => progress.update(j) });
  progress.stop(done);
  if (done.status !== 'SUCCEEDED') {
    throw new MloopError(done.error?.code === 'INVALID_PARAMETER_VALUE' ? 'INVALID_PARAMETER_VALUE' : 'INVALID_STATE', `${done.kind} job ${done.id} ${done.status.toLowerCase()}: ${done.error?.message ?? 'no reason given'}`, {
      fields: (done.error?.fields ?? []).map((f) => ({ ...f })),
    });
  }
  return done;
}

/** A number as tables show it: integers as they are, others to five significant digits. */
export function fmt(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
  if (value === undefined || value === null) return '';
  return String(value);
}

/** Metrics with intervals, as training results and evaluation reports hold them. */
export type MetricMap = Record<string, { value: number | null; lower: number | null; upper: number | null }>;

/** A table of metrics with their intervals. */
export function metricsTable(metrics: MetricMap): string {
  return table(
    Object.entries(metrics).map(([metric, m]) => ({ metric, value: fmt(m.value), interval: m.lower === null || m.upper === null ? '' : `[${fmt(m.lower)}, ${fmt(m.upper)}]` })),
    ['metric', 'value', 'interval'],
  );
}
