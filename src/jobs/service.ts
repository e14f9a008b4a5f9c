/**
 * Jobs: accepted requests whose work runs in the background. A job is persisted as QUEUED by
 * {@link JobService.submit} (after the caller has validated its request), run by a {@link JobRunner}
 * through {@link JobService.execute}, and watched through its status, progress fraction and message.
 *
 * Liveness: the worker running a job refreshes the job's heartbeat (wall clock) while it runs. At
 * start-up, {@link JobService.recoverInterrupted} ends as FAILED the unfinished jobs of this worker's
 * previous life (same worker id: same host and home) and every RUNNING job whose heartbeat is stale;
 * the same sweep repeats while the server runs, so a worker that died on another machine is noticed too.
 */
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, isMloopError, MloopError, notFound } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import { decodePageToken, nextPageToken } from '../core/search/index.ts';
import type { MetadataStore } from '../storage/ports.ts';
import { isFinal, JOB_STATUSES, type Job, type JobError, type JobStatus } from './domain.ts';
import { InProcessJobRunner, type JobRunner } from './runner.ts';
import { JobStore, toJob, type JobRow } from './store.ts';

/** What a handler sees while its job runs. */
export interface JobContext {
  readonly job: Job;
  /** The context of the request that submitted the job (its actor and project). */
  readonly ctx: RequestContext;
  /** Aborted when the job is cancelled or the server shuts down. */
  readonly signal: AbortSignal;
  /**
   * Reports progress (a fraction in [0, 1], clamped and never going back) and what is happening.
   * Cheap to call often: writes are batched. Throws {@link JobCancelledError} once the job is cancelled.
   */
  progress(fraction: number, message?: string): void;
  /** Throws {@link JobCancelledError} when the job has been cancelled. */
  checkCancelled(): void;
}

/** Runs one kind of job; resolves its result (stored as JSON). */
export type JobHandler = (run: JobContext) => Promise<unknown>;

/** Options of {@link JobService.register}. */
export interface JobKindOptions {
  /**
   * Reads a stored result as the kind's current shape (a result stored by an earlier release may use
   * older field names); applied wherever jobs are returned.
   */
  readonly readResult?: (stored: unknown) => unknown;
}

/** Thrown inside a job that was cancelled. */
export class JobCancelledError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'JobCancelledError';
  }
}

/** What {@link JobService} needs. */
export interface JobDeps {
  readonly metadata: MetadataStore;
  /** Event time: creation, start and end times of jobs. */
  readonly clock: Clock;
  /** Wall time, for heartbeats only (liveness is a matter of real seconds). */
  readonly wallClock?: Clock;
  /** Default: an {@link InProcessJobRunner} running one job at a time. */
  readonly runner?: JobRunner;
  /** Stable id of this worker (`<host>:<home>` for a server with a home); a random one otherwise. */
  readonly workerId?: string;
  /** How often a running job's heartbeat is refreshed. Default 10 s. */
  readonly heartbeatMs?: number;
  /** A RUNNING job whose heartbeat is older than this is considered orphaned. Default 60 s. */
  readonly staleAfterMs?: number;
  /** Receives failures of the background machinery (never of jobs, which are stored). */
  readonly onError?: (error: unknown, what: string) => void;
}

/** A page of jobs. */
export interface JobPage {
  readonly jobs: Job[];
  readonly next_page_token?: string;
}

const PROGRESS_WRITE_MS = 250;

/** The stable id of a server's worker: host and home. */
export function stableWorkerId(home: string | undefined): string | undefined {
  return home === undefined ? undefined : `${hostname()}:${home}`;
}

/** Persists jobs, runs them through a runner, and settles the ones whose worker died. */
export class JobService {
  readonly store = new JobStore();
  readonly runner: JobRunner;
  readonly workerId: string;
  readonly #handlers = new Map<string, JobHandler>();
  readonly #readers = new Map<string, (stored: unknown) => unknown>();
  readonly #running = new Map<string, AbortController>();
  readonly #wall: Clock;
  readonly #heartbeatMs: number;
  readonly #staleAfterMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(readonly deps: JobDeps) {
    this.runner = deps.runner ?? new InProcessJobRunner();
    this.workerId = deps.workerId ?? `${hostname()}:${newHexId().slice(0, 12)}`;
    this.#wall = deps.wallClock ?? systemClock;
    this.#heartbeatMs = deps.heartbeatMs ?? 10_000;
    this.#staleAfterMs = deps.staleAfterMs ?? 60_000;
    this.runner.start((id) => this.execute(id));
  }

  /** Registers the handler of job kind `kind` (once per kind). */
  register(kind: string, handler: JobHandler, options: JobKindOptions = {}): void {
    if (this.#handlers.has(kind)) throw new Error(`job kind ${kind} is already registered`);
    this.#handlers.set(kind, handler);
    if (options.readResult) this.#readers.set(kind, options.readResult);
  }

  /** A stored job as the API returns it: its result read by its kind's reader, if it has one. */
  #toJob(row: JobRow): Job {
    const job = toJob(row);
    const read = this.#readers.get(job.kind);
    return read && job.result !== null && job.result !== undefined ? { ...job, result: read(job.result) } : job;
  }

  /** Persists a job of `kind` for the (already validated) `spec` and schedules it. */
  async submit(ctx: RequestContext, kind: string, spec: unknown): Promise<Job> {
    if (!this.#handlers.has(kind)) throw new MloopError('INTERNAL_ERROR', `no handler for job kind ${kind}`);
    if (this.#closed) throw new MloopError('SERVICE_UNAVAILABLE', 'the server is shutting down and takes no new jobs');
    const id = newHexId();
    await this.store.insert(this.deps.metadata.db, {
      id,
      project: ctx.project,
      kind,
      status: 'QUEUED',
      progress: 0,
      message: 'queued',
      spec: JSON.stringify(spec),
      result: null,
      error: null,
      worker: null,
      cancel_requested: 0,
      created_at: this.deps.clock.now(),
      created_by: ctx.actor.name,
      started_at: null,
      finished_at: null,
      heartbeat_at: null,
    });
    this.#ensureTimer();
    try {
      await this.runner.enqueue(id);
    } catch (error) {
      await this.store.finish(this.deps.metadata.db, id, { status: 'FAILED', error: { code: 'SERVICE_UNAVAILABLE', message: 'the job could not be scheduled' } }, this.deps.clock.now());
      throw new MloopError('SERVICE_UNAVAILABLE', 'the job could not be scheduled', { cause: error });
    }
    return this.get(ctx, id);
  }

  /** The job `id` of the caller's project (of one of `kinds` when given). */
  async get(ctx: RequestContext, id: string, kinds?: readonly string[]): Promise<Job> {
    const row = await this.store.get(this.deps.metadata.db, id, ctx.project);
    if (!row || (kinds && !kinds.includes(row.kind))) throw notFound(`job ${JSON.stringify(id)} does not exist${kinds ? ` among ${kinds.join(' or ')} jobs` : ''}`);
    return this.#toJob(row);
  }

  /** Jobs of the caller's project, newest first, a page at a time. */
  async list(ctx: RequestContext, options: { kinds?: readonly string[]; status?: string; max_results?: number; page_token?: string } = {}): Promise<JobPage> {
    const limit = options.max_results ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidParam('max_results', `must be an integer in 1..1000, got ${limit}`);
    let statuses: JobStatus[] | undefined;
    if (options.status !== undefined) {
      if (!(JOB_STATUSES as readonly string[]).includes(options.status)) throw invalidParam('status', `must be one of ${JOB_STATUSES.join(', ')}`);
      statuses = [options.status as JobStatus];
    }
    const offset = decodePageToken(options.page_token);
    const rows = await this.store.list(this.deps.metadata.db, { project: ctx.project, kinds: options.kinds, statuses, limit: limit + 1, offset });
    const next = nextPageToken(offset, limit, rows.length);
    return { jobs: rows.slice(0, limit).map((row) => this.#toJob(row)), ...(next ? { next_page_token: next } : {}) };
  }

  /**
   * Cancels a job: a QUEUED one ends CANCELLED at once, a RUNNING one is asked to stop (it ends
   * CANCELLED at its next progress report). Cancelling a finished job is INVALID_STATE.
   */
  async cancel(ctx: RequestContext, id: string, kinds?: readonly string[]): Promise<Job> {
    const job = await this.get(ctx, id, kinds);
    if (isFinal(job.status)) throw new MloopError('INVALID_STATE', `job ${id} is already ${job.status}`);
    const db = this.deps.metadata.db;
    await this.store.requestCancel(db, id);
    const error: JobError = { code: 'CANCELLED', message: `cancelled by ${ctx.actor.name}` };
    if (job.status === 'QUEUED') await this.store.finish(db, id, { status: 'CANCELLED', error, message: 'cancelled' }, this.deps.clock.now());
    this.#running.get(id)?.abort(new JobCancelledError(error.message));
    return this.get(ctx, id);
  }

  /** Resolves once job `id` is final (polling the store), or rejects after `timeoutMs`. */
  async waitFor(ctx: RequestContext, id: string, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<Job> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const job = await this.get(ctx, id);
      if (isFinal(job.status)) return job;
      if (Date.now() > deadline) throw new MloopError('SERVICE_UNAVAILABLE', `job ${id} did not finish in time (still ${job.status})`);
      await new Promise((r) => setTimeout(r, options.pollMs ?? 50));
    }
  }

  /** Runs job `id` here: claims it, runs its handler, stores the outcome. Called by the runner. */
  async execute(id: string): Promise<void> {
    const db = this.deps.metadata.db;
    if (!(await this.store.claim(db, id, this.workerId, this.deps.clock.now(), this.#wall.now()))) return;
    const row = (await this.store.get(db, id))!;
    const job = toJob(row);
    const handler = this.#handlers.get(job.kind);
    const controller = new AbortController();
    this.#running.set(id, controller);
    let latest = { fraction: 0, message: 'started' };
    let written = 0;
    let writing: Promise<void> = Promise.resolve();
    const flush = () => {
      written = Date.now();
      const { fraction, message } = latest;
      writing = writing
        .then(() => this.store.progress(db, id, fraction, message, this.#wall.now()))
        .then((cancel) => {
          if (cancel && !controller.signal.aborted) controller.abort(new JobCancelledError('cancelled'));
        })
        .catch((error: unknown) => this.deps.onError?.(error, `progress of job ${id}`));
    };
    const checkCancelled = () => {
      if (controller.signal.aborted) {
        const reason = controller.signal.reason;
        throw reason instanceof JobCancelledError ? reason : new JobCancelledError(String(reason));
      }
    };
    const context: JobContext = {
      job,
      ctx: { actor: { name: job.created_by }, project: job.project, requestId: `job:${id}` },
      signal: controller.signal,
      progress: (fraction, message) => {
        checkCancelled();
        const f = Number.isFinite(fraction) ? Math.min(1, Math.max(latest.fraction, fraction)) : latest.fraction;
        latest = { fraction: f, message: message ?? latest.message };
        if (Date.now() - written >= PROGRESS_WRITE_MS) flush();
      },
      checkCancelled,
    };
    let outcome: { status: JobStatus; result?: unknown; error?: JobError; message?: string };
    try {
      if (!handler) throw new MloopError('INTERNAL_ERROR', `no handler for job kind ${job.kind} in worker ${this.workerId}`);
      const result = await handler(context);
      outcome = { status: 'SUCCEEDED', result: result ?? null, message: 'done' };
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      if (error instanceof JobCancelledError || reason instanceof JobCancelledError) {
        const message = (reason as JobCancelledError | undefined)?.message ?? (error as Error).message;
        outcome = { status: this.#closed ? 'FAILED' : 'CANCELLED', error: { code: this.#closed ? 'INTERRUPTED' : 'CANCELLED', message }, message: this.#closed ? 'interrupted' : 'cancelled' };
      } else {
        outcome = { status: 'FAILED', error: jobError(error), message: 'failed' };
      }
    } finally {
      this.#running.delete(id);
    }
    await writing;
    try {
      await this.store.finish(db, id, outcome, this.deps.clock.now());
    } catch (error) {
      this.deps.onError?.(error, `end of job ${id}`);
    }
  }

  /**
   * Ends as FAILED the jobs whose worker is gone: unfinished jobs of this worker's previous life and
   * RUNNING jobs with a stale heartbeat. Returns their ids. Called at start-up and now and then.
   */
  async recoverInterrupted(options: { atStartup?: boolean } = {}): Promise<string[]> {
    const ids = await this.store.failOrphans(this.deps.metadata.db, {
      deadWorker: options.atStartup ? this.workerId : undefined,
      staleBefore: this.#wall.now() - this.#staleAfterMs,
      now: this.deps.clock.now(),
      error: { code: 'INTERRUPTED', message: 'the worker running this job stopped before it finished (server restarted or crashed); submit it again' },
    });
    return ids;
  }

  /**
   * Stops taking jobs; running jobs are aborted and end FAILED (`INTERRUPTED`), queued ones too.
   * Waits up to `graceMs` for running jobs to settle.
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.runner.close();
    for (const controller of this.#running.values()) controller.abort(new JobCancelledError('the server shut down while the job was running'));
    const deadline = Date.now() + graceMs;
    while (this.#running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    try {
      const db = this.deps.metadata.db;
      const pending = await db.selectFrom('jobs').select('id').where('worker', 'is', null).where('status', '=', 'QUEUED').execute();
      for (const { id } of pending) {
        await this.store.finish(db, id, { status: 'FAILED', error: { code: 'INTERRUPTED', message: 'the server shut down before the job started; submit it again' } }, this.deps.clock.now());
      }
      for (const id of this.#running.keys()) {
        await this.store.finish(db, id, { status: 'FAILED', error: { code: 'INTERRUPTED', message: 'the server shut down while the job was running; submit it again' } }, this.deps.clock.now());
      }
    } catch (error) {
      this.deps.onError?.(error, 'settling jobs at shutdown');
    }
  }

  /** Heartbeats of running jobs and the orphan sweep, while there is work. */
  #ensureTimer(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => {
      const db = this.deps.metadata.db;
      const tasks: Promise<unknown>[] = [this.recoverInterrupted()];
      if (this.#running.size > 0) tasks.push(this.store.heartbeat(db, this.workerId, this.#wall.now()));
      Promise.all(tasks).catch((error: unknown) => this.deps.onError?.(error, 'job heartbeat'));
    }, Math.min(this.#heartbeatMs, this.#staleAfterMs / 2));
    this.#timer.unref();
  }
}

/** The stored form of an error thrown by a job. */
export function jobError(error: unknown): JobError {
  if (isMloopError(error)) {
    return { code: error.code, message: error.message, ...(error.fields.length > 0 ? { fields: error.fields.map((f) => ({ field: f.field, reason: f.reason })) } : {}) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL_ERROR', message: message.slice(0, 2000) };
}
