/**
 * Where jobs run. The {@link JobService} persists jobs and knows how to run one by id; a
 * {@link JobRunner} decides when and where that happens. The embedded default runs them in this
 * process, one or a few at a time; a BullMQ runner (a queue on Redis, `mloop worker` processes on other
 * machines calling `JobService.execute`) implements the same interface.
 */

/** Schedules jobs that are persisted as QUEUED. */
export interface JobRunner {
  /** A name for logs and the API (`in-process`, `bullmq`). */
  readonly name: string;
  /** Hands the runner the function that runs one job by id; called once, before any `enqueue`. */
  start(execute: (jobId: string) => Promise<void>): void;
  /** Schedules job `jobId`. Resolves once it is scheduled, not when it has run. */
  enqueue(jobId: string): Promise<void>;
  /** Number of jobs waiting to start in this runner (for the API; -1 when unknown). */
  pending(): number;
  /** Stops starting jobs; pending ones stay QUEUED for the service to settle. */
  close(): Promise<void>;
}

/** Runs jobs in this process, first in first out, at most `concurrency` at a time. */
export class InProcessJobRunner implements JobRunner {
  readonly name = 'in-process';
  readonly #concurrency: number;
  readonly #queue: string[] = [];
  #running = 0;
  #closed = false;
  #execute: ((jobId: string) => Promise<void>) | undefined;

  constructor(options: { concurrency?: number } = {}) {
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
  }

  start(execute: (jobId: string) => Promise<void>): void {
    this.#execute = execute;
  }

  async enqueue(jobId: string): Promise<void> {
    if (this.#closed) throw new Error('job runner is closed');
    this.#queue.push(jobId);
    this.#pump();
  }

  pending(): number {
    return this.#queue.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
  }

  #pump(): void {
    const execute = this.#execute;
    if (!execute) return;
    while (!this.#closed && this.#running < this.#concurrency && this.#queue.length > 0) {
      const id = this.#queue.shift()!;
      this.#running++;
      // Next tick: the request that enqueued the job answers before the job starts.
      setImmediate(() => {
        execute(id)
          .catch(() => undefined)
          .finally(() => {
            this.#running--;
            this.#pump();
          });
      });
    }
  }
}
