/**
 * Worker entry of the parallel logistic objective: for each fit it evaluates its row chunks of every
 * task posted on the fit's {@link TaskChannel} (see `../workers.ts`), writing each chunk's gradient and
 * loss into the shared partials.
 */
import { serveSetups, TaskChannel } from '../workers.ts';
import { logisticChunks, type LogisticData } from './logistic-kernel.ts';

/** The `setup` message of one fit. */
export interface LogisticWorkerSetup {
  readonly type: 'setup';
  readonly data: LogisticData;
  readonly params: Float64Array;
  /** Per chunk: the gradient (params.length values) then the loss. */
  readonly partials: Float64Array;
  readonly channel: Int32Array;
  /** This worker's index on the channel. */
  readonly worker: number;
  /** Row bounds of the chunks (chunks + 1 values). */
  readonly bounds: Int32Array;
  /** The chunks this worker evaluates. */
  readonly chunks: readonly number[];
}

serveSetups<LogisticWorkerSetup>((m) => {
  const grad = new Float64Array(m.params.length);
  const scratch = new Float64Array(m.data.outputs);
  TaskChannel.attach(m.channel).serve(m.worker, () => logisticChunks(m.data, m.params, m.bounds, m.chunks, m.partials, grad, scratch));
});
