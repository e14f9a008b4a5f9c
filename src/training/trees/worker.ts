/**
 * Entry of a boosting worker thread: for each fit it receives the shared arrays and runs its share
 * (thread 1 of 2) of every task the calling thread posts on the fit's channel (see `../workers.ts`).
 */
import { serveSetups, TaskChannel } from '../workers.ts';
import { type KernelArrays, C, makeScratch, runTask } from './kernels.ts';

/** The `setup` message of one fit. */
export interface BoostingWorkerSetup {
  readonly type: 'setup';
  readonly arrays: KernelArrays;
  readonly channel: Int32Array;
}

serveSetups<BoostingWorkerSetup>(({ arrays, channel: words }) => {
  const ctl = arrays.ctl;
  const channel = TaskChannel.attach(words);
  const scratch = makeScratch(channel.barrier(() => ctl[C.PARTICIPANTS]));
  channel.serve(0, () => runTask(arrays, scratch, 1, ctl[C.PARTICIPANTS]));
});
