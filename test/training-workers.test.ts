/**
 * The training module's worker threads (`src/training/workers.ts`): a pooled worker serves many fits
 * in a row without losing a task or the end of a fit, a failing task is reported to the caller, and a
 * failure on the calling thread releases the workers waiting at a barrier.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../src/core/errors.ts';
import { TaskChannel, WorkerPool } from '../src/training/workers.ts';
import type { CountingSetup } from './support/counting-worker.ts';

const pool = new WorkerPool(new URL('./support/counting-worker.ts', import.meta.url), { maxIdle: 1 });

async function round(tasks: number, failOn = 0): Promise<{ counts: Int32Array; error?: unknown }> {
  const channel = TaskChannel.create(1);
  const counts = new Int32Array(new SharedArrayBuffer(4));
  const workers = await pool.open(1, (): CountingSetup => ({ type: 'setup', channel: channel.words, counts, failOn }));
  let error: unknown;
  try {
    for (let t = 0; t < tasks; t++) channel.run(() => {}, 'counting');
  } catch (e) {
    error = e;
  } finally {
    channel.close();
    pool.release(workers);
  }
  return { counts, error };
}

describe('training worker threads', () => {
  it('a pooled worker serves 300 fits in a row, every task of each, and each fit ends', { timeout: 60_000 }, async () => {
    for (let r = 0; r < 300; r++) {
      const { counts, error } = await round(1 + (r % 4));
      assert.equal(error, undefined);
      assert.equal(counts[0], 1 + (r % 4), `round ${r}`);
    }
  });

  it('reports a task that failed on the worker, and the worker serves the next fit', { timeout: 30_000 }, async () => {
    const failed = await round(5, 2);
    assert.ok(failed.error instanceof MloopError && failed.error.code === 'INTERNAL_ERROR' && /counting: a worker thread failed/.test(failed.error.message), String(failed.error));
    assert.equal((await round(3)).counts[0], 3);
  });

  it('a failure on the calling thread releases a worker waiting at a barrier', { timeout: 30_000 }, () => {
    const channel = TaskChannel.create(0);
    const barrier = channel.barrier(() => 2);
    // The other participant never arrives; the error word set by run() ends the wait with an error.
    assert.throws(() => channel.run(() => {
      throw new Error('caller failed');
    }, 'barrier'), /caller failed/);
    assert.throws(barrier, /another thread of the task failed/);
  });
});
