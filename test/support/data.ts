/** Helpers of the dataset tests: uploads over HTTP and a look at what the stores hold. */
import { readdir } from 'node:fs/promises';
import type { BlobStore } from '../../src/storage/ports.ts';
import type { TestServer } from './server.ts';

/** Uploads `body` as a version of `name`; returns status and parsed body. */
export async function uploadDataset(
  server: TestServer,
  name: string,
  body: string | Uint8Array,
  options: { contentType?: string; query?: Record<string, string>; project?: string } = {},
): Promise<{ status: number; body: any }> {
  const query = new URLSearchParams(options.query ?? {}).toString();
  const response = await server.fetch(`/api/v1/datasets/${encodeURIComponent(name)}/versions${query ? `?${query}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': options.contentType ?? 'text/csv', ...(options.project ? { 'x-mloop-project': options.project } : {}) },
    body: body as BodyInit,
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** Every blob key under `cas/` and `staging/`. */
export async function contentBlobs(blobs: BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for (const prefix of ['cas', 'staging']) for await (const blob of blobs.listAll(prefix)) keys.push(blob.key);
  return keys.sort();
}

/** Files in a folder (none when it does not exist). */
export async function filesIn(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
