/**
 * Runs boosting tasks on the main thread plus a worker thread over shared memory. Workers are kept in a
 * small process-wide pool (unref'd, so they never keep the process alive) and handed to one fit at a
 * time; a task is posted by bumping a generation word that the worker watches with `Atomics`.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type KernelArrays, type KernelScratch, C, MAX_THREADS, TASK, makeScratch, runTask } from './kernels.ts';

/** Words of the synchronisation array. */
export const SYNC = { TASK: 0, ERROR: 1, BARRIER_COUNT: 2, BARRIER_GENERATION: 3, DONE: 4 } as const;
/** Polls of a sync word before a thread sleeps on it. */
export const SPIN_LIMIT = 1 << 12;

/** Runs the task described in the control block and returns when every participant is done. */
export interface TaskRunner {
  readonly threads: number;
  /** Runs the task with `participants` threads (1: on the calling thread alone). */
  run(participants?: number): void;
  /** Hands the worker back to the pool. */
  close(): void;
}

/** Threads worth using for `rows × features` cells, capped by the machine and by `requested`. */
export function chooseThreads(rows: number, features: number, requested: number | undefined): number {
  const cap = Math.min(MAX_THREADS, availableParallelism());
  if (requested !== undefined) return Math.max(1, Math.min(requested, cap));
  // Below this size a tree grows in milliseconds and the hand-offs would cost more than they save.
  if (rows < 20_000 || features < 2) return 1;
  return cap;
}

/** Allocates a typed array on a SharedArrayBuffer when `shared`, else on an ordinary buffer. */
export function allocate<T>(ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number }, length: number, shared: boolean): T {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  return new ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes), 0, length);
}

/** Meets the other threads at the barrier words of `sync`. */
export function barrierOn(sync: Int32Array, participants: () => number): () => void {
  return () => {
    const generation = Atomics.load(sync, SYNC.BARRIER_GENERATION);
    if (Atomics.add(sync, SYNC.BARRIER_COUNT, 1) === participants() - 1) {
      Atomics.store(sync, SYNC.BARRIER_COUNT, 0);
      Atomics.add(sync, SYNC.BARRIER_GENERATION, 1);
      Atomics.notify(sync, SYNC.BARRIER_GENERATION);
      return;
    }
    let spins = 0;
    while (Atomics.load(sync, SYNC.BARRIER_GENERATION) === generation) {
      if (Atomics.load(sync, SYNC.ERROR) !== 0) throw new Error('the other boosting thread failed');
      if (++spins > SPIN_LIMIT) Atomics.wait(sync, SYNC.BARRIER_GENERATION, generation, 50);
    }
  };
}

/**
 * A runner over `arrays` for `threads` threads (1 or 2). Falls back to one thread when the worker
 * cannot be started.
 */
export async function openRunner(arrays: KernelArrays, threads: number): Promise<TaskRunner> {
  if (threads <= 1) return singleRunner(arrays);
  const sync = new Int32Array(new SharedArrayBuffer(4 * (SYNC.DONE + MAX_THREADS)));
  let worker: Worker;
  try {
    [worker] = await acquire(1);
    await setup(worker, arrays, sync, 1);
  } catch {
    return singleRunner(arrays);
  }
  const ctl = arrays.ctl;
  const scratch = makeScratch(barrierOn(sync, () => ctl[C.PARTICIPANTS]));
  const solo = makeScratch();
  let generation = 0;
  const post = () => {
    generation++;
    Atomics.store(sync, SYNC.TASK, generation);
    Atomics.notify(sync, SYNC.TASK);
  };
  const waitWorker = () => {
    const word = SYNC.DONE + 1;
    let spins = 0;
    while (Atomics.load(sync, word) !== generation) {
      if (++spins > SPIN_LIMIT) Atomics.wait(sync, word, Atomics.load(sync, word), 50);
    }
  };
  let closed = false;
  return {
    threads,
    run(participants = threads) {
      if (participants <= 1) {
        ctl[C.PARTICIPANTS] = 1;
        runTask(arrays, solo, 0, 1);
        return;
      }
      ctl[C.PARTICIPANTS] = 2;
      post();
      try {
        runTask(arrays, scratch, 0, 2);
      } catch (error) {
        // Releases the worker if it waits at a barrier for this thread.
        Atomics.store(sync, SYNC.ERROR, 1);
        waitWorker();
        throw error;
      }
      waitWorker();
      if (Atomics.load(sync, SYNC.ERROR) !== 0) throw new Error('a boosting worker thread failed');
    },
    close() {
      if (closed) return;
      closed = true;
      ctl[C.CODE] = TASK.EXIT;
      post();
      waitWorker();
      idle.push(worker);
    },
  };
}

function singleRunner(arrays: KernelArrays): TaskRunner {
  const scratch = makeScratch();
  return {
    threads: 1,
    run() {
      arrays.ctl[C.PARTICIPANTS] = 1;
      runTask(arrays, scratch, 0, 1);
    },
    close: () => {},
  };
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
      void worker.terminate();
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
