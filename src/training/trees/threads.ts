/**
 * Runs boosting tasks on the main thread plus worker threads over shared memory. Workers are kept in a
 * small process-wide pool (unref'd, so they never keep the process alive) and handed out to one fit at a
 * time; a task is posted by bumping a generation word that the workers watch with `Atomics`.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type KernelArrays, type KernelScratch, C, MAX_THREADS, TASK, makeScratch, runTask } from './kernels.ts';

/** Words of the synchronisation array: the task generation, an error flag, then one done word per thread. */
export const SYNC = { TASK: 0, ERROR: 1, DONE: 2 } as const;
/** Polls of a sync word before a thread sleeps on it. */
export const SPIN_LIMIT = 1 << 15;

/** Runs the task described in the control block on every thread and returns when all are done. */
export interface TaskRunner {
  readonly threads: number;
  run(): void;
  /** Hands the workers back to the pool. */
  close(): void;
}

/** Threads worth using for `rows × features` cells, capped by the machine and by `requested`. */
export function chooseThreads(rows: number, features: number, requested: number | undefined): number {
  const cap = Math.min(MAX_THREADS, availableParallelism());
  if (requested !== undefined) return Math.max(1, Math.min(requested, cap, features));
  // Below this size a tree grows in milliseconds and the hand-offs would cost more than they save.
  if (rows < 20_000 || features < 2) return 1;
  return Math.min(2, cap);
}

/** Allocates a typed array on a SharedArrayBuffer when `shared`, else on an ordinary buffer. */
export function allocate<T>(ctor: { new (buffer: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, length: number, shared: boolean): T {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return new ctor(buffer);
}

/**
 * A runner over `arrays` for `threads` threads. Feature and row ranges of each thread are written into
 * the control block here. Falls back to one thread when workers cannot be started.
 */
export async function openRunner(arrays: KernelArrays, threads: number): Promise<TaskRunner> {
  setRanges(arrays, threads);
  const scratch = makeScratch();
  if (threads <= 1) return singleRunner(arrays, scratch);
  let workers: Worker[];
  try {
    workers = await acquire(threads - 1);
  } catch {
    setRanges(arrays, 1);
    return singleRunner(arrays, scratch);
  }
  const sync = new Int32Array(new SharedArrayBuffer(4 * (SYNC.DONE + MAX_THREADS)));
  try {
    await Promise.all(workers.map((worker, i) => setup(worker, arrays, sync, i + 1)));
  } catch {
    for (const worker of workers) void worker.terminate();
    setRanges(arrays, 1);
    return singleRunner(arrays, scratch);
  }
  let generation = 0;
  const waitAll = () => {
    for (let t = 1; t < threads; t++) {
      const word = SYNC.DONE + t;
      let spins = 0;
      while (Atomics.load(sync, word) !== generation) {
        if (++spins > SPIN_LIMIT) Atomics.wait(sync, word, Atomics.load(sync, word), 50);
      }
    }
  };
  const post = () => {
    generation++;
    Atomics.store(sync, SYNC.TASK, generation);
    Atomics.notify(sync, SYNC.TASK);
  };
  let closed = false;
  return {
    threads,
    run() {
      post();
      runTask(arrays, scratch, 0);
      waitAll();
      if (Atomics.load(sync, SYNC.ERROR) !== 0) throw new Error('a boosting worker thread failed');
    },
    close() {
      if (closed) return;
      closed = true;
      arrays.ctl[C.CODE] = TASK.EXIT;
      post();
      waitAll();
      idle.push(...workers);
    },
  };
}

function singleRunner(arrays: KernelArrays, scratch: KernelScratch): TaskRunner {
  return {
    threads: 1,
    run: () => runTask(arrays, scratch, 0),
    close: () => {},
  };
}

function setRanges(arrays: KernelArrays, threads: number): void {
  const ctl = arrays.ctl;
  for (let t = 0; t < MAX_THREADS; t++) {
    const inUse = t < threads;
    ctl[C.FEAT + 2 * t] = inUse ? Math.floor((arrays.nFeatures * t) / threads) : 0;
    ctl[C.FEAT + 2 * t + 1] = inUse ? Math.floor((arrays.nFeatures * (t + 1)) / threads) : 0;
    ctl[C.ROWS + 2 * t] = inUse ? Math.floor((arrays.n * t) / threads) : 0;
    ctl[C.ROWS + 2 * t + 1] = inUse ? Math.floor((arrays.n * (t + 1)) / threads) : 0;
  }
}

const idle: Worker[] = [];

async function acquire(count: number): Promise<Worker[]> {
  const out: Worker[] = [];
  while (out.length < count && idle.length > 0) out.push(idle.pop()!);
  while (out.length < count) out.push(spawn());
  return out;
}

function spawn(): Worker {
  // Workers do not inherit tsx's loader hooks, so the worker registers them before importing its entry.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(code, { eval: true });
  worker.unref();
  worker.on('error', () => {
    const i = idle.indexOf(worker);
    if (i >= 0) idle.splice(i, 1);
  });
  return worker;
}

function setup(worker: Worker, arrays: KernelArrays, sync: Int32Array, thread: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== 'ready') return;
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.postMessage({ type: 'setup', thread, arrays, sync });
  });
}
