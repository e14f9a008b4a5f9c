/**
 * Gradients of the MLP's mini-batches. Large training sets split every batch into two fixed halves
 * whose gradients are added in order — the second half on a worker thread over shared memory when one
 * is available (see `../workers.ts`), else both here — so the result does not depend on the number of
 * threads.
 */
import type { Worker } from 'node:worker_threads';
import { shareMatrix, shareVector } from '../matrix.ts';
import type { Matrix, Task } from '../types.ts';
import { TaskChannel, threadBudget, WorkerPool } from '../workers.ts';
import { type Buffers, type Network, partGradient } from './network.ts';

/** Training sets from this many rows split each mini-batch in two halves, so two threads can share it. */
const SPLIT_MIN_ROWS = 20_000;
const pool = new WorkerPool(new URL('./mlp-worker.ts', import.meta.url));

/** The `setup` message of the MLP worker: one fit's shared arrays. */
export interface MlpWorkerSetup {
  readonly type: 'setup';
  readonly layers: readonly number[];
  readonly task: Task;
  /** The network's parameters, written by the training thread between batches. */
  readonly params: Float64Array;
  readonly x: Float64Array;
  readonly cols: number;
  readonly y: Float64Array;
  /** The batch's row indices; the worker takes rows [meta[0], meta[1]). */
  readonly rows: Uint32Array;
  /** The worker's half-batch gradient. */
  readonly grad: Float64Array;
  /** [start of the worker's half, batch size, loss out]. */
  readonly meta: Float64Array;
  readonly channel: Int32Array;
  /** Rows of the largest half-batch. */
  readonly partCapacity: number;
}

/** The worker computing second halves, with the shared arrays of the batch. */
interface Helper {
  readonly worker: Worker;
  readonly channel: TaskChannel;
  readonly rows: Uint32Array;
  readonly meta: Float64Array;
}

/** Computes the gradients of mini-batches of one fit (see the module comment). */
export class BatchEngine {
  /** The network being trained (in shared memory when a worker helps). */
  readonly net: Network;
  readonly #x: Matrix;
  readonly #y: Float64Array;
  readonly #split: boolean;
  readonly #buf: Buffers;
  readonly #batchX: Float64Array;
  /** The second half's gradient. */
  readonly #other: Float64Array;
  readonly #worker: Helper | null;

  private constructor(net: Network, x: Matrix, y: Float64Array, batchSize: number, split: boolean, other: Float64Array, worker: Helper | null) {
    this.net = net;
    this.#x = x;
    this.#y = y;
    this.#split = split;
    const part = split ? Math.ceil(batchSize / 2) : batchSize;
    this.#buf = net.buffers(part);
    this.#batchX = new Float64Array(part * x.cols);
    this.#other = other;
    this.#worker = worker;
  }

  /** An engine for mini-batches of up to `batchSize` rows of `x`, with a worker when it pays and `maxThreads` allows. */
  static async create(initial: Network, x: Matrix, y: Float64Array, batchSize: number, maxThreads: number): Promise<BatchEngine> {
    const split = x.rows >= SPLIT_MIN_ROWS && batchSize >= 2;
    const p = initial.params.length;
    if (split && threadBudget(maxThreads) > 1) {
      const net = initial.share();
      const xs = shareMatrix(x);
      const ys = shareVector(y);
      const other = new Float64Array(new SharedArrayBuffer(p * 8));
      const rows = new Uint32Array(new SharedArrayBuffer(batchSize * 4));
      const meta = new Float64Array(new SharedArrayBuffer(3 * 8));
      const channel = TaskChannel.create(1);
      try {
        const [worker] = await pool.open(1, (): MlpWorkerSetup => ({
          type: 'setup', layers: net.layers, task: net.task, params: net.params, x: xs.data, cols: xs.cols, y: ys,
          rows, grad: other, meta, channel: channel.words, partCapacity: Math.ceil(batchSize / 2),
        }));
        return new BatchEngine(net, xs, ys, batchSize, true, other, { worker, channel, rows, meta });
      } catch {
        // No worker thread here: both halves on this thread give the same result.
      }
    }
    return new BatchEngine(initial, x, y, batchSize, split, new Float64Array(split ? p : 0), null);
  }

  /** Threads in use, this one included. */
  get threads(): number {
    return this.#worker ? 2 : 1;
  }

  /** Σ loss over `rows` (one mini-batch); writes the batch gradient (without L2) into `grad`. */
  gradient(rows: Uint32Array, grad: Float64Array): number {
    const m = rows.length;
    const { data, cols } = this.#x;
    if (!this.#split) return partGradient(this.net, data, cols, this.#y, rows, m, this.#buf, this.#batchX, grad);
    const h = Math.ceil(m / 2);
    const first = () => partGradient(this.net, data, cols, this.#y, rows.subarray(0, h), m, this.#buf, this.#batchX, grad);
    let loss = 0;
    const helper = this.#worker;
    if (helper) {
      helper.rows.set(rows);
      helper.meta[0] = h;
      helper.meta[1] = m;
      helper.channel.run(() => {
        loss = first();
      }, 'MLP mini-batch gradient');
      loss += helper.meta[2];
    } else {
      loss = first();
      loss += partGradient(this.net, data, cols, this.#y, rows.subarray(h, m), m, this.#buf, this.#batchX, this.#other);
    }
    const other = this.#other;
    for (let i = 0; i < grad.length; i++) grad[i] += other[i];
    return loss;
  }

  /** Ends the worker's part of the fit and lets it go back to the pool. */
  close(): void {
    if (!this.#worker) return;
    this.#worker.channel.close();
    pool.release([this.#worker.worker]);
  }
}
