/**
 * Worker threads of the training module, defined once for every user (the logistic gradient, the MLP's
 * mini-batches, the boosting kernels, and the compute jobs of `compute-client.ts`):
 *
 * - {@link WorkerPool}: idle workers of one entry module. mloop runs TypeScript through tsx without a
 *   build step, and a worker does not inherit tsx's loader, so each worker registers tsx before it
 *   imports its `.ts` entry. Workers are `unref`'d (they never hold the process open) and reused across
 *   fits: a cold start costs 0.1–0.3 s.
 * - {@link TaskChannel}: how a trainer's hot loop shares one task with its workers over shared memory.
 *   The calling thread posts a task by bumping a generation word, runs its own share, and waits until
 *   every worker has published that generation in its done word. A worker that fails sets the error
 *   word instead of leaving the caller waiting (the caller waits synchronously, inside a fit). Tasks
 *   come back to back (hundreds per tree, one per mini-batch or L-BFGS step), so both sides poll a
 *   little before they sleep.
 * - {@link serveSetups}: the worker side of both: announce that the module is loaded, then serve each
 *   fit's `setup` message (acknowledged first) until the fit closes the channel.
 *
 * Compute jobs keep one worker for a whole job and talk to it with ordinary messages (request, progress,
 * result), since their tasks last seconds and carry tables, not shared arrays.
 */
import { availableParallelism } from 'node:os';
import { parentPort, Worker } from 'node:worker_threads';
import { MloopError } from '../core/errors.ts';

const TSX_API = (() => {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
})();

/** The message a worker posts once its entry module has loaded. */
const READY = 'ready';
/** The message a worker posts when it has received a fit's setup and starts serving it. */
const SETUP_ACK = 'setup-ack';

/** Number of threads (this one included) worth using on this machine, capped by `limit`. */
export function threadBudget(limit = Infinity): number {
  return Math.max(1, Math.min(availableParallelism(), limit));
}

/** Idle workers of one entry module, started on demand and reused. */
export class WorkerPool {
  readonly #entry: URL;
  readonly #maxIdle: number;
  readonly #idle: Worker[] = [];

  /**
   * @param entry the worker's module (a file URL); it calls {@link serveSetups}, or
   *   {@link announceReady} once it listens for its own messages.
   * @param options.maxIdle idle workers kept for later (more are terminated when released). Default: all.
   */
  constructor(entry: URL, options: { maxIdle?: number } = {}) {
    this.#entry = entry;
    this.#maxIdle = options.maxIdle ?? Infinity;
  }

  /** Takes `count` workers, starting new ones as needed; resolves once each has loaded its module. */
  async acquire(count: number): Promise<Worker[]> {
    const taken = this.#idle.splice(0, count);
    const started: Promise<Worker>[] = [];
    while (taken.length + started.length < count) started.push(this.#start());
    const results = await Promise.allSettled(started);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const fresh = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      this.release([...taken, ...fresh]);
      throw failed.reason;
    }
    return [...taken, ...fresh];
  }

  /**
   * Takes `count` workers and sends worker `i` the setup message `setup(i)`; resolves once every one
   * has acknowledged it (and so serves the fit's channel). On failure the workers go back to the pool.
   */
  async open(count: number, setup: (i: number) => { readonly type: 'setup' }): Promise<Worker[]> {
    const workers = await this.acquire(count);
    try {
      await Promise.all(workers.map((w, i) => handshake(w, SETUP_ACK, () => w.postMessage(setup(i)))));
    } catch (error) {
      for (const w of workers) void w.terminate();
      throw error;
    }
    return workers;
  }

  /** Returns workers to the pool (terminating those beyond `maxIdle`). */
  release(workers: readonly Worker[]): void {
    for (const w of workers) {
      if (this.#idle.length < this.#maxIdle && !this.#idle.includes(w)) this.#idle.push(w);
      else void w.terminate();
    }
  }

  /** Starts `count` workers ahead of time, so that the first fit does not pay for their start-up. */
  async warm(count: number): Promise<void> {
    this.release(await this.acquire(count));
  }

  async #start(): Promise<Worker> {
    const load = `import(${JSON.stringify(this.#entry.href)})`;
    const source = TSX_API === null ? load : `import(${JSON.stringify(TSX_API)}).then((api) => { api.register(); return ${load}; })`;
    const worker = new Worker(source, { eval: true });
    worker.unref();
    // A worker that dies while idle leaves the pool (and its error does not reach the process).
    const forget = () => {
      const i = this.#idle.indexOf(worker);
      if (i >= 0) this.#idle.splice(i, 1);
    };
    worker.on('error', forget);
    worker.on('exit', forget);
    await handshake(worker, READY, () => undefined);
    return worker;
  }
}

/** Resolves when `worker` posts `message` after `send()`; rejects when it fails or exits first. */
function handshake(worker: Worker, message: string, send: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      if (m !== message) return;
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`worker thread exited (code ${code}) before answering`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    send();
  });
}

/** In a worker entry module that handles its own messages: tells the pool the module has loaded. */
export function announceReady(): void {
  if (!parentPort) throw new Error('announceReady runs in a worker thread');
  parentPort.postMessage(READY);
}

/**
 * In a worker entry module: tells the pool the module has loaded, then hands every `setup` message to `serve` after
 * acknowledging it. `serve` typically runs a {@link TaskChannel} loop until the fit closes it, then the
 * worker waits for the next fit's setup.
 */
export function serveSetups<T extends { readonly type: 'setup' }>(serve: (setup: T) => void): void {
  const port = parentPort;
  if (!port) throw new Error('serveSetups runs in a worker thread');
  port.on('message', (m: T) => {
    if (m?.type !== 'setup') return;
    port.postMessage(SETUP_ACK);
    serve(m);
  });
  port.postMessage(READY);
}

/** Polls of a shared word before a thread sleeps on it. */
const SPIN_LIMIT = 1 << 12;
/** Words of a channel: generation, stop and error flags, a barrier, then one done word per worker. */
const W = { GENERATION: 0, STOP: 1, ERROR: 2, BARRIER_COUNT: 3, BARRIER_GENERATION: 4, DONE: 5 } as const;

/**
 * The shared words through which a calling thread hands tasks to its workers (see the module
 * comment). What a task is lives elsewhere (in arrays both sides were given at setup); the channel
 * only says "run the current task", "done", "failed" and "stop".
 */
export class TaskChannel {
  /** The shared words; send them to the workers in their setup message. */
  readonly words: Int32Array;
  /** Worker threads on the channel (the calling thread not counted). */
  readonly workers: number;
  #generation = 0;
  #closed = false;

  private constructor(words: Int32Array) {
    this.words = words;
    this.workers = words.length - W.DONE;
  }

  /** A channel for `workers` worker threads, over a fresh SharedArrayBuffer. */
  static create(workers: number): TaskChannel {
    return new TaskChannel(new Int32Array(new SharedArrayBuffer(4 * (W.DONE + workers))));
  }

  /** The channel of `words` (from a setup message), as a worker sees it. */
  static attach(words: Int32Array): TaskChannel {
    return new TaskChannel(words);
  }

  /**
   * Calling thread: posts a task, runs this thread's share with `work`, and waits for every worker's
   * share. Throws an `INTERNAL_ERROR` naming `what` when a worker failed; when `work` throws, the
   * workers are released from any barrier and waited for before the error goes on.
   */
  run(work: () => void, what: string): void {
    this.#post();
    try {
      work();
    } catch (error) {
      Atomics.store(this.words, W.ERROR, 1);
      this.#waitAll();
      throw error;
    }
    this.#waitAll();
    if (Atomics.load(this.words, W.ERROR) !== 0) throw new MloopError('INTERNAL_ERROR', `${what}: a worker thread failed`);
  }

  /** Calling thread: ends the workers' loops and waits until they have left them. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.words, W.STOP, 1);
    this.#post();
    this.#waitAll();
  }

  /**
   * Worker thread: runs `work` for every task posted until the channel is closed. A task that throws
   * sets the error word (the calling thread reports it) and the loop goes on to the next.
   * @param worker this worker's index on the channel, 0-based.
   */
  serve(worker: number, work: () => void): void {
    const words = this.words;
    const done = W.DONE + worker;
    // Each fit brings fresh words whose generation starts at 0; reading it here instead could already
    // see the first task and skip it.
    let seen = 0;
    for (;;) {
      let spins = 0;
      while (Atomics.load(words, W.GENERATION) === seen) {
        if (++spins > SPIN_LIMIT) Atomics.wait(words, W.GENERATION, seen);
      }
      seen = Atomics.load(words, W.GENERATION);
      // The stop word is set before the generation that carries it, so it is read here, once: read
      // again after this task, it could already belong to the next generation, which would then
      // never be answered.
      const stop = Atomics.load(words, W.STOP) !== 0;
      if (!stop) {
        try {
          work();
        } catch {
          Atomics.store(words, W.ERROR, 1);
        }
      }
      Atomics.store(words, done, seen);
      Atomics.notify(words, done);
      if (stop) return;
    }
  }

  /**
   * A barrier inside a task for `participants()` threads (the calling thread included). It throws
   * instead of waiting forever once another thread has failed.
   */
  barrier(participants: () => number): () => void {
    const words = this.words;
    return () => {
      const generation = Atomics.load(words, W.BARRIER_GENERATION);
      if (Atomics.add(words, W.BARRIER_COUNT, 1) === participants() - 1) {
        Atomics.store(words, W.BARRIER_COUNT, 0);
        Atomics.add(words, W.BARRIER_GENERATION, 1);
        Atomics.notify(words, W.BARRIER_GENERATION);
        return;
      }
      let spins = 0;
      while (Atomics.load(words, W.BARRIER_GENERATION) === generation) {
        if (Atomics.load(words, W.ERROR) !== 0) throw new MloopError('INTERNAL_ERROR', 'another thread of the task failed');
        if (++spins > SPIN_LIMIT) Atomics.wait(words, W.BARRIER_GENERATION, generation, 50);
      }
    };
  }

  #post(): void {
    this.#generation++;
    Atomics.store(this.words, W.GENERATION, this.#generation);
    Atomics.notify(this.words, W.GENERATION);
  }

  #waitAll(): void {
    const words = this.words;
    for (let w = 0; w < this.workers; w++) {
      const word = W.DONE + w;
      let spins = 0;
      for (let v = Atomics.load(words, word); v !== this.#generation; v = Atomics.load(words, word)) {
        if (++spins > SPIN_LIMIT) Atomics.wait(words, word, v, 50);
      }
    }
  }
}
