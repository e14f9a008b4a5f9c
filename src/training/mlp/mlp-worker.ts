/**
 * Worker entry of the MLP's split mini-batches: for each fit it computes the gradient of the second
 * half of every batch posted on the fit's channel (see `./batches.ts`), reading the weights from shared
 * memory.
 */
import { serveSetups, TaskChannel } from '../workers.ts';
import type { MlpWorkerSetup } from './batches.ts';
import { Network, partGradient } from './network.ts';

serveSetups<MlpWorkerSetup>((m) => {
  const net = Network.over(m.layers, m.task, m.params);
  const buf = net.buffers(m.partCapacity);
  const batchX = new Float64Array(m.partCapacity * m.cols);
  TaskChannel.attach(m.channel).serve(0, () => {
    const start = m.meta[0];
    const end = m.meta[1];
    m.meta[2] = partGradient(net, m.x, m.cols, m.y, m.rows.subarray(start, end), end, buf, batchX, m.grad);
  });
});
