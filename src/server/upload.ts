/**
 * Streaming request bodies (artifact and dataset uploads): the socket's bytes handed to a service as
 * a stream, never held in memory, with the cases a route must get right when the service stops
 * reading part-way or the client goes away.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Buffer between the socket and the store: large enough to keep the disk busy, small enough to stay bounded. */
export const UPLOAD_HIGH_WATER_MARK = 1024 * 1024;

/** What {@link streamRequestBody} hands the consumer. */
export interface RequestBody {
  /** The body's bytes; errors when the client closes the connection before the end. */
  readonly stream: Readable;
  /** The length the client declared (`content-length`), when it declared one. */
  readonly declaredBytes?: number;
}

/**
 * Runs `consume` over the raw body of `request`. The consumer may stop reading part-way (a size
 * limit, a bad file): a pass-through between socket and consumer keeps that from destroying the
 * socket, so the client still gets the error; the connection is then closed after the answer, since
 * the rest of the body was never read.
 */
export async function streamRequestBody<T>(request: FastifyRequest, reply: FastifyReply, consume: (body: RequestBody) => Promise<T>): Promise<T> {
  const lengthHeader = request.headers['content-length'];
  const declared = lengthHeader === undefined ? undefined : Number(lengthHeader);
  const raw = request.raw;
  const stream = new PassThrough({ highWaterMark: UPLOAD_HIGH_WATER_MARK });
  const onClose = () => {
    if (!raw.complete) stream.destroy(new Error('client closed the connection during the upload'));
  };
  const onError = (error: Error) => stream.destroy(error);
  raw.once('close', onClose);
  raw.once('error', onError);
  try {
    if (declared === undefined || declared > 0) raw.pipe(stream);
    else stream.end();
    return await consume({ stream, declaredBytes: declared !== undefined && Number.isFinite(declared) ? declared : undefined });
  } catch (error) {
    raw.unpipe(stream);
    if (!raw.complete) void reply.header('connection', 'close');
    throw error;
  } finally {
    raw.off('close', onClose);
    raw.off('error', onError);
  }
}
