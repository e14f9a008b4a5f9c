/** A stream stage that fails once more than a given number of bytes has passed. */
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { MloopError } from '../core/errors.ts';

/** Returns a pass-through that errors with PAYLOAD_TOO_LARGE past `maxBytes` (no limit when undefined). */
export function limitBytes(maxBytes: number | undefined): Transform {
  if (maxBytes === undefined) return new PassThrough();
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new MloopError('PAYLOAD_TOO_LARGE', `body exceeds the limit of ${maxBytes} bytes`));
      else callback(null, chunk);
    },
  });
}
