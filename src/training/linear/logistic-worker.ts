/**
 * Worker entry of the parallel logistic objective: after a `setup` message it evaluates its share of
 * row chunks every time the main thread bumps the generation counter, until told to stop.
 * Protocol (all in shared memory): ctrl[0] generation, ctrl[1] workers-done counter, ctrl[2] stop flag,
 * ctrl[3] error flag (set instead of hanging the main thread, which waits synchronously).
 */
import { parentPort } from 'node:worker_threads';
import { logisticChunk, type LogisticData } from './logistic-kernel.ts';

/** The `setup` message the main thread sends. */
export interface LogisticWorkerSetup {
  readonly type: 'setup';
  readonly data: LogisticData;
  readonly params: Float64Array;
  readonly partials: Float64Array;
  readonly ctrl: Int32Array;
  readonly bounds: Int32Array;
  readonly chunks: readonly number[];
  readonly startGeneration: number;
}

function run(m: LogisticWorkerSetup): void {
  const p = m.params.length;
  const grad = new Float64Array(p);
  const scratch = new Float64Array(m.data.outputs);
  let generation = m.startGeneration;
  for (;;) {
    Atomics.wait(m.ctrl, 0, generation);
    generation = Atomics.load(m.ctrl, 0);
    if (Atomics.load(m.ctrl, 2) === 1) break;
    try {
      for (const c of m.chunks) {
        const loss = logisticChunk(m.data, m.params, m.bounds[c], m.bounds[c + 1], grad, scratch);
        m.partials.set(grad, c * (p + 1));
        m.partials[c * (p + 1) + p] = loss;
      }
    } catch {
      Atomics.store(m.ctrl, 3, 1);
    }
    Atomics.add(m.ctrl, 1, 1);
    Atomics.notify(m.ctrl, 1);
  }
}

parentPort!.on('message', (m: LogisticWorkerSetup) => {
  if (m.type === 'setup') run(m);
});
parentPort!.postMessage('ready');
