/**
 * Worker threads for the trainers' hot loops. mloop runs TypeScript through tsx without a build step,
 * and a worker does not inherit tsx's loader, so each worker first registers tsx and then imports its
 * `.ts` entry module. Workers are kept in small per-module pools, `unref`'d so they never hold the
 * process open, and reused across fits (a cold start costs ~0.1–0.3 s).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const TSX_API = (() => {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
})();

/** Starts a worker running the TypeScript module at `entry` (a file URL). */
export function startTsWorker(entry: URL): Worker {
  const load = `import(${JSON.stringify(entry.href)})`;
  const source = TSX_API === null ? load : `import(${JSON.stringify(TSX_API)}).then((api) => { api.register(); return ${load}; })`;
  const worker = new Worker(source, { eval: true });
  worker.unref();
  return worker;
}

/** Number of threads (this one included) worth using on this machine, capped by `limit`. */
export function threadBudget(limit = Infinity): number {
  return Math.max(1, Math.min(availableParallelism(), limit));
}

/** A pool of identical idle workers for one entry module. */
export class WorkerPool {
  readonly #entry: URL;
  readonly #idle: Worker[] = [];
  readonly #ready = new WeakMap<Worker, Promise<void>>();

  constructor(entry: URL) {
    this.#entry = entry;
  }

  /** Takes `count` workers (starting new ones as needed); resolves once each has loaded its module. */
  async acquire(count: number): Promise<Worker[]> {
    const taken = this.#idle.splice(0, count);
    while (taken.length < count) {
      const w = startTsWorker(this.#entry);
      this.#ready.set(
        w,
        new Promise<void>((resolve, reject) => {
          const onMessage = (m: unknown) => {
            if (m === 'ready') {
              w.off('error', reject);
              resolve();
            }
          };
          w.once('message', onMessage);
          w.once('error', reject);
        }),
      );
      taken.push(w);
    }
    try {
      await Promise.all(taken.map((w) => this.#ready.get(w)));
    } catch (error) {
      for (const w of taken) void w.terminate();
      throw error;
    }
    return taken;
  }

  /** Returns workers to the pool. */
  release(workers: Worker[]): void {
    this.#idle.push(...workers);
  }

  /** Starts `count` workers ahead of time so that the first fit does not pay for their start-up. */
  async warm(count: number): Promise<void> {
    this.release(await this.acquire(count));
  }
}
