/**
 * Runs boosting tasks on the calling thread plus a worker thread over shared memory: the worker comes
 * from the training module's pool and serves one fit at a time; a task is posted on the fit's
 * {@link TaskChannel} (see `../workers.ts`).
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { TaskChannel, WorkerPool } from '../workers.ts';
import { type KernelArrays, C, MAX_THREADS, makeScratch, runTask } from './kernels.ts';
import type { BoostingWorkerSetup } from './worker.ts';

const pool = new WorkerPool(new URL('./worker.ts', import.meta.url));

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

/**
 * A runner over `arrays` for `threads` threads (1 or 2). Falls back to one thread when the worker
 * cannot be started.
 */
export async function openRunner(arrays: KernelArrays, threads: number): Promise<TaskRunner> {
  if (threads <= 1) return singleRunner(arrays);
  const channel = TaskChannel.create(1);
  let worker: Worker;
  try {
    [worker] = await pool.open(1, (): BoostingWorkerSetup => ({ type: 'setup', arrays, channel: channel.words }));
  } catch {
    return singleRunner(arrays);
  }
  const ctl = arrays.ctl;
  const scratch = makeScratch(channel.barrier(() => ctl[C.PARTICIPANTS]));
  const solo = makeScratch();
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
      channel.run(() => runTask(arrays, scratch, 0, 2), 'histogram gradient boosting');
    },
    close() {
      if (closed) return;
      closed = true;
      channel.close();
      pool.release([worker]);
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
