/**
 * Run artifacts: MLflow's proxied artifact service over the {@link BlobStore} port.
 *
 * An `mlflow-artifacts:/<path>` URI names blob key `<path>`, so a run whose `artifact_uri` is
 * `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts` keeps its files under that key prefix. Every
 * path is decoded fully and checked by `core/paths.ts` before it reaches the store; bodies stream in
 * both directions.
 */
import type { Readable } from 'node:stream';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, MloopError, notFound } from '../core/errors.ts';
import { decodeFully, joinKey, safeRelativePath } from '../core/paths.ts';
import { RESERVED_BLOB_PREFIXES } from '../storage/content.ts';
import type { BlobStore, PutResult } from '../storage/ports.ts';

/** The URI scheme of artifacts served by this server. */
export const ARTIFACTS_SCHEME = 'mlflow-artifacts';

/** One entry of an artifact listing, in MLflow's `FileInfo` shape (`file_size` absent for directories). */
export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** A download: the body and what the response headers need. */
export interface ArtifactDownload {
  readonly stream: Readable;
  readonly size: number;
  readonly contentType: string;
  /** Last segment of the path, for `Content-Disposition`. */
  readonly fileName: string;
}

/** What {@link ArtifactService} needs. */
export interface ArtifactDeps {
  readonly blobs: BlobStore;
  /** Largest single upload, in bytes; larger gets PAYLOAD_TOO_LARGE (413). */
  readonly maxArtifactBytes: number;
}

/**
 * Parses an `mlflow-artifacts:` URI into its blob key (`''` for the root). Accepts
 * `mlflow-artifacts:/path`, `mlflow-artifacts:///path` and `mlflow-artifacts://host[:port]/path`
 * (the authority names this server and is ignored). The URI is decoded fully before it is judged;
 * throws INVALID_PARAMETER_VALUE naming `field` for any other scheme or an unsafe path.
 */
export function artifactUriToKey(uri: string, field: string): string {
  const decoded = decodeFully(uri, field);
  const prefix = `${ARTIFACTS_SCHEME}:`;
  if (!decoded.toLowerCase().startsWith(prefix)) {
    throw invalidParam(field, `${JSON.stringify(uri)} is not an ${prefix} URI`);
  }
  let rest = decoded.slice(prefix.length);
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    if (!/^([A-Za-z0-9.-]+(:\d{1,5})?)?$/.test(authority)) {
      throw invalidParam(field, `${JSON.stringify(uri)} has an invalid authority ${JSON.stringify(authority)}`);
    }
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  if (!rest.startsWith('/')) throw invalidParam(field, `${JSON.stringify(uri)} must have an absolute path after "${prefix}"`);
  return safeRelativePath(rest.slice(1), field, { allowEmpty: true });
}

/** The `mlflow-artifacts:` URI of blob key `key`. */
export function keyToArtifactUri(key: string): string {
  return `${ARTIFACTS_SCHEME}:/${key}`;
}

/** True when `key` is `dir` itself or lies under it (both canonical keys). */
export function keyIsWithin(key: string, dir: string): boolean {
  return dir === '' || key === dir || key.startsWith(`${dir}/`);
}

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  md: 'text/plain; charset=utf-8',
  yaml: 'text/plain; charset=utf-8',
  yml: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  pdf: 'application/pdf',
  parquet: 'application/vnd.apache.parquet',
  onnx: 'application/octet-stream',
  gz: 'application/gzip',
  zip: 'application/zip',
};

/**
 * Content type of a download, by file extension. Types a browser would execute (HTML, SVG, JS) are
 * deliberately served as plain text: artifacts are user content from any run.
 */
export function contentTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  const ext = dot === -1 ? '' : fileName.slice(dot + 1).toLowerCase();
  if (['html', 'htm', 'svg', 'js', 'mjs', 'xhtml', 'xml'].includes(ext)) return 'text/plain; charset=utf-8';
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

/** Artifact operations over the blob store. */
export class ArtifactService {
  constructor(readonly deps: ArtifactDeps) {}

  /** Largest upload accepted, in bytes. */
  get maxBytes(): number {
    return this.deps.maxArtifactBytes;
  }

  /** Checks a path given by a client and returns its canonical blob key. */
  artifactKey(rawPath: string, field = 'path', allowEmpty = false): string {
    return safeRelativePath(rawPath, field, { allowEmpty });
  }

  /**
   * Streams `body` to the artifact at `rawPath`, replacing what was there. `declaredBytes` (the
   * request's Content-Length) lets an oversized upload be refused before a byte is read.
   */
  async upload(_ctx: RequestContext, rawPath: string, body: Readable, declaredBytes?: number): Promise<PutResult> {
    const key = this.artifactKey(rawPath);
    this.#assertWritable(key, rawPath);
    if (declaredBytes !== undefined && declaredBytes > this.maxBytes) {
      throw new MloopError('PAYLOAD_TOO_LARGE', `artifact ${JSON.stringify(rawPath)}: ${declaredBytes} bytes exceed the limit of ${this.maxBytes} bytes`);
    }
    return this.deps.blobs.put(key, body, { maxBytes: this.maxBytes });
  }

  /** Opens the artifact at `rawPath` for reading; RESOURCE_DOES_NOT_EXIST when there is no file there. */
  async download(rawPath: string): Promise<ArtifactDownload> {
    const key = this.artifactKey(rawPath);
    const info = await this.deps.blobs.stat(key);
    if (!info) throw notFound(`artifact ${JSON.stringify(rawPath)} does not exist`);
    const stream = await this.deps.blobs.get(key);
    const fileName = key.slice(key.lastIndexOf('/') + 1);
    return { stream, size: info.size, contentType: contentTypeFor(fileName), fileName };
  }

  /**
   * The direct children of directory `rawPath` (the root when absent), as MLflow's proxied listing
   * returns them: each `path` is the child's base name.
   */
  async list(rawPath: string | undefined): Promise<FileInfo[]> {
    const key = rawPath === undefined ? '' : this.artifactKey(rawPath, 'path', true);
    const entries = await this.deps.blobs.list(key);
    return entries.map((entry) => toFileInfo(entry.key.slice(entry.key.lastIndexOf('/') + 1), entry.isDir, entry.size));
  }

  /** Deletes the file or the whole directory at `rawPath`. Deleting nothing is not an error (as in MLflow). */
  async delete(_ctx: RequestContext, rawPath: string): Promise<void> {
    const key = this.artifactKey(rawPath);
    this.#assertWritable(key, rawPath);
    if (!(await this.deps.blobs.delete(key))) await this.deps.blobs.deletePrefix(key);
  }

  /**
   * Lists directory `rawPath` (relative, root when absent) of a run whose artifact root is
   * `artifactUri`; paths come back relative to the run's artifact root, as MLflow's
   * `artifacts/list` returns them. A run whose artifacts live elsewhere (a root outside this
   * server's) lists as empty, as MLflow's proxy lists a location it cannot serve.
   */
  async listRun(artifactUri: string, rawPath: string | undefined): Promise<FileInfo[]> {
    const relative = rawPath === undefined ? '' : this.artifactKey(rawPath, 'path', true);
    let root: string;
    try {
      root = artifactUriToKey(artifactUri, 'artifact_uri');
    } catch {
      return [];
    }
    const entries = await this.deps.blobs.list(joinKey(root, relative));
    return entries.map((entry) => {
      const base = entry.key.slice(entry.key.lastIndexOf('/') + 1);
      return toFileInfo(joinKey(relative, base), entry.isDir, entry.size);
    });
  }

  /** Refuses writes into key spaces other modules own (content-addressed blobs and their staging area). */
  #assertWritable(key: string, rawPath: string): void {
    const top = key.split('/')[0];
    if (RESERVED_BLOB_PREFIXES.includes(top)) {
      throw invalidParam('path', `path ${JSON.stringify(rawPath)} is not allowed: "${top}/" is reserved for content-addressed storage`);
    }
  }
}

function toFileInfo(path: string, isDir: boolean, size: number | undefined): FileInfo {
  return isDir ? { path, is_dir: true } : { path, is_dir: false, file_size: size ?? 0 };
}
