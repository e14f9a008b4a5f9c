/**
 * Worker-thread entry of the compute tasks (`compute.ts`). Protocol: the worker announces it is ready
 * (see `workers.ts`), then answers each `{ id, task, input }` message with `{ id, type: 'progress',
 * fraction, message }` messages and one `{ id, type: 'result', value }` or `{ id, type: 'error', error }`.
 */
import { parentPort } from 'node:worker_threads';
import { isMloopError } from '../core/errors.ts';
import { crossValidateCandidate, explainExternal, explainModel, fitAndExport } from './compute.ts';
import { announceReady } from './workers.ts';

/** A request to the worker. */
export interface ComputeRequest {
  readonly id: number;
  readonly task: 'fit' | 'cv' | 'explain' | 'explain-external';
  readonly input: unknown;
}

/** A message from the worker. */
export type ComputeMessage =
  | { readonly id: number; readonly type: 'progress'; readonly fraction: number; readonly message: string }
  | { readonly id: number; readonly type: 'result'; readonly value: unknown }
  | { readonly id: number; readonly type: 'error'; readonly error: { code?: string; message: string; fields?: { field: string; reason: string }[]; stack?: string } };

const port = parentPort!;
let lastProgress = 0;

port.on('message', (request: ComputeRequest) => {
  const progress = (fraction: number, message: string) => {
    const now = Date.now();
    if (now - lastProgress < 100 && fraction < 1) return;
    lastProgress = now;
    port.postMessage({ id: request.id, type: 'progress', fraction, message } satisfies ComputeMessage);
  };
  const run = async (): Promise<unknown> => {
    switch (request.task) {
      case 'fit':
        return fitAndExport(request.input as Parameters<typeof fitAndExport>[0], progress);
      case 'cv':
        return crossValidateCandidate(request.input as Parameters<typeof crossValidateCandidate>[0], progress);
      case 'explain':
        return explainModel(request.input as Parameters<typeof explainModel>[0], progress);
      case 'explain-external':
        return explainExternal(request.input as Parameters<typeof explainExternal>[0], progress);
    }
  };
  run().then(
    (value) => port.postMessage({ id: request.id, type: 'result', value } satisfies ComputeMessage),
    (error: unknown) => {
      const e = error as Error;
      port.postMessage({
        id: request.id,
        type: 'error',
        error: isMloopError(error)
          ? { code: error.code, message: error.message, fields: error.fields.map((f) => ({ field: f.field, reason: f.reason })) }
          : { message: e?.message ?? String(error), stack: e?.stack },
      } satisfies ComputeMessage);
    },
  );
});

announceReady();
