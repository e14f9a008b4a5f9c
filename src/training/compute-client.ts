/**
 * Runs compute tasks (`compute.ts`) on a worker thread, so a training job never blocks the server's
 * event loop. One worker per client, from the training module's pool (`workers.ts`), which keeps one
 * idle worker for the next client (start-up and compiling the trainers costs a few hundred
 * milliseconds). Aborting terminates the worker, which is how a running job is cancelled.
 */
import type { Worker } from 'node:worker_threads';
import { MloopError, type ErrorCode, ERROR_CATALOGUE } from '../core/errors.ts';
import type { ExplainOutput } from '../evaluation/explain/explanations.ts';
import type { CvInput, ExplainInput, ExternalExplainInput, FitInput, FitOutput, ProgressFn } from './compute.ts';
import { crossValidateCandidate, explainExternal, explainModel, fitAndExport } from './compute.ts';
import type { ComputeMessage, ComputeRequest } from './compute-worker.ts';
import type { CrossValidationResult } from './cv.ts';
import { WorkerPool } from './workers.ts';

const pool = new WorkerPool(new URL('./compute-worker.ts', import.meta.url), { maxIdle: 1 });

/** Where compute tasks run: `worker` (default) or `inline` (this thread; for tests and benchmarks). */
export type ComputeMode = 'worker' | 'inline';

/** A worker (or the current thread) that runs compute tasks one after another. */
export class ComputeClient {
  readonly #mode: ComputeMode;
  #worker: Promise<Worker> | undefined;
  #next = 1;
  #failed: Error | undefined;
  /** Removes this client's listeners from its worker. */
  #detach: (() => void) | undefined;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: ProgressFn }>();

  constructor(options: { mode?: ComputeMode; signal?: AbortSignal } = {}) {
    this.#mode = options.mode ?? 'worker';
    options.signal?.addEventListener('abort', () => this.#abort(options.signal!.reason), { once: true });
  }

  /** See {@link fitAndExport}. */
  fit(input: FitInput, onProgress?: ProgressFn): Promise<FitOutput> {
    return this.#mode === 'inline' ? fitAndExport(input, onProgress) : (this.#run('fit', input, onProgress) as Promise<FitOutput>);
  }

  /** See {@link crossValidateCandidate}. */
  crossValidate(input: CvInput, onProgress?: ProgressFn): Promise<Omit<CrossValidationResult, 'outOfFold'>> {
    return this.#mode === 'inline' ? crossValidateCandidate(input, onProgress) : (this.#run('cv', input, onProgress) as Promise<Omit<CrossValidationResult, 'outOfFold'>>);
  }

  /** See {@link explainModel}. */
  explain(input: ExplainInput, onProgress?: ProgressFn): Promise<ExplainOutput> {
    return this.#mode === 'inline' ? Promise.resolve().then(() => explainModel(input, onProgress)) : (this.#run('explain', input, onProgress) as Promise<ExplainOutput>);
  }

  /** See {@link explainExternal}. */
  explainExternal(input: ExternalExplainInput, onProgress?: ProgressFn): Promise<ExplainOutput> {
    return this.#mode === 'inline' ? explainExternal(input, onProgress) : (this.#run('explain-external', input, onProgress) as Promise<ExplainOutput>);
  }

  /** Returns the worker to the pool (or ends it when it failed or a task is still running). */
  close(): void {
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    void worker.then(
      (w) => {
        this.#detach?.();
        if (this.#failed || this.#pending.size > 0) void w.terminate();
        else pool.release([w]);
      },
      () => undefined,
    );
  }

  #abort(reason: unknown): void {
    this.#failed = reason instanceof Error ? reason : new Error(String(reason));
    const worker = this.#worker;
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(this.#failed);
    this.#pending.clear();
    void worker?.then((w) => w.terminate(), () => undefined);
  }

  async #run(task: ComputeRequest['task'], input: unknown, onProgress?: ProgressFn): Promise<unknown> {
    if (this.#failed) throw this.#failed;
    const worker = await (this.#worker ??= this.#start());
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      worker.postMessage({ id, task, input } satisfies ComputeRequest);
    });
  }

  async #start(): Promise<Worker> {
    const [worker] = await pool.acquire(1);
    const onMessage = (m: ComputeMessage) => {
      const pending = this.#pending.get(m.id);
      if (!pending) return;
      if (m.type === 'progress') {
        try {
          pending.onProgress?.(m.fraction, m.message);
        } catch (error) {
          this.#abort(error);
        }
        return;
      }
      this.#pending.delete(m.id);
      if (m.type === 'result') pending.resolve(m.value);
      else {
        const code = m.error.code && m.error.code in ERROR_CATALOGUE ? (m.error.code as ErrorCode) : 'INTERNAL_ERROR';
        const error = new MloopError(code, m.error.message, { fields: m.error.fields ?? [] });
        if (m.error.stack) error.stack = m.error.stack;
        pending.reject(error);
      }
    };
    const fail = (error: Error) => {
      this.#failed = error;
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    };
    const onExit = (code: number) => fail(new Error(`compute worker exited (code ${code})`));
    worker.on('message', onMessage);
    worker.on('error', fail);
    worker.on('exit', onExit);
    this.#detach = () => {
      worker.off('message', onMessage);
      worker.off('error', fail);
      worker.off('exit', onExit);
    };
    return worker;
  }
}
