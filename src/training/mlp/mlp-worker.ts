/**
 * Worker entry of the MLP's split mini-batches: after a `setup` message it computes the gradient of
 * the second half of each batch every time the main thread bumps the generation counter, reading the
 * weights from shared memory, until told to stop.
 */
import { parentPort } from 'node:worker_threads';
import { type MlpWorkerSetup, Network, partGradient } from './mlp.ts';

function run(m: MlpWorkerSetup): void {
  const net = Network.over(m.layers, m.task, m.params);
  const buf = net.buffers(m.partCapacity);
  const batchX = new Float64Array(m.partCapacity * m.cols);
  let generation = 0;
  for (;;) {
    Atomics.wait(m.ctrl, 0, generation);
    generation = Atomics.load(m.ctrl, 0);
    if (Atomics.load(m.ctrl, 2) === 1) break;
    try {
      const start = m.meta[0];
      const end = m.meta[1];
      m.meta[2] = partGradient(net, m.x, m.cols, m.y, m.rows.subarray(start, end), end, buf, batchX, m.grad);
    } catch {
      Atomics.store(m.ctrl, 3, 1);
    }
    Atomics.store(m.ctrl, 1, 1);
    Atomics.notify(m.ctrl, 1);
  }
}

parentPort!.on('message', (m: MlpWorkerSetup) => {
  if (m.type === 'setup') run(m);
});
parentPort!.postMessage('ready');
