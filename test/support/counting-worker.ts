/**
 * A worker entry for the tests of `src/training/workers.ts`: for each fit it adds 1 to `counts[0]` per
 * task posted on the channel, and throws on the task whose number is `failOn` (1-based; 0: never).
 */
import { serveSetups, TaskChannel } from '../../src/training/workers.ts';

/** The setup message of one round. */
export interface CountingSetup {
  readonly type: 'setup';
  readonly channel: Int32Array;
  readonly counts: Int32Array;
  readonly failOn: number;
}

serveSetups<CountingSetup>((m) => {
  let task = 0;
  TaskChannel.attach(m.channel).serve(0, () => {
    task++;
    if (task === m.failOn) throw new Error('task failed on purpose');
    Atomics.add(m.counts, 0, 1);
  });
});
