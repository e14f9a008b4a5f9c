/**
 * Entry of a boosting worker thread. It receives the shared arrays of one fit, then runs its share of
 * each task the main thread posts through the `sync` words until told to stop, and goes back to waiting
 * for the next fit.
 */
import { parentPort } from 'node:worker_threads';
import { type KernelArrays, C, TASK, makeScratch, runTask } from './kernels.ts';
import { SPIN_LIMIT, SYNC, barrierOn } from './threads.ts';

interface SetupMessage {
  readonly type: 'setup';
  readonly thread: number;
  readonly arrays: KernelArrays;
  readonly sync: Int32Array;
}

const port = parentPort;
if (port) {
  port.on('message', (message: SetupMessage) => {
    if (message.type !== 'setup') return;
    port.postMessage({ type: 'ready' });
    serve(message.arrays, message.sync, message.thread);
  });
}

function serve(arrays: KernelArrays, sync: Int32Array, thread: number): void {
  const ctl = arrays.ctl;
  const scratch = makeScratch(barrierOn(sync, () => ctl[C.PARTICIPANTS]));
  // Each fit brings a fresh sync array whose generation starts at 0; reading it here instead could
  // already see the first task and skip it.
  let seen = 0;
  for (;;) {
    let spins = 0;
    while (Atomics.load(sync, SYNC.TASK) === seen) {
      // Tasks come back to back while a tree grows: spin briefly before sleeping to keep the hand-off fast.
      if (++spins > SPIN_LIMIT) Atomics.wait(sync, SYNC.TASK, seen);
    }
    seen = Atomics.load(sync, SYNC.TASK);
    if (ctl[C.CODE] === TASK.EXIT) {
      Atomics.store(sync, SYNC.DONE + thread, seen);
      Atomics.notify(sync, SYNC.DONE + thread);
      return;
    }
    try {
      runTask(arrays, scratch, thread, ctl[C.PARTICIPANTS]);
    } catch (error) {
      Atomics.store(sync, SYNC.ERROR, 1);
      port?.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
    Atomics.store(sync, SYNC.DONE + thread, seen);
    Atomics.notify(sync, SYNC.DONE + thread);
  }
}
