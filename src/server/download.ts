/** Streaming file downloads (artifacts, dataset versions): one set of headers for every route that sends a file. */
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/** A file to send. */
export interface FileDownload {
  readonly stream: Readable;
  readonly size: number;
  readonly contentType: string;
  /** Name offered to the client in `Content-Disposition`. */
  readonly fileName: string;
}

/** RFC 6266 `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name. */
export function attachment(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/** Streams `download` as an attachment that browsers will not sniff into something executable. */
export function sendDownload(reply: FastifyReply, download: FileDownload): FastifyReply {
  return reply
    .header('content-type', download.contentType)
    .header('content-length', String(download.size))
    .header('content-disposition', attachment(download.fileName))
    .header('x-content-type-options', 'nosniff')
    .send(download.stream);
}
