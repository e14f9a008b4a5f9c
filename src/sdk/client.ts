/** The TypeScript client of mloop's own API (`/api/v1`). The CLI is built on it. */
import type { Experiment, Metric, Run } from '../tracking/domain.ts';

/** An error answered by the server (RFC 9457 problem details) or a failure to reach it. */
export class MloopClientError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly fields: readonly { field: string; reason: string }[] = [],
  ) {
    super(message);
    this.name = 'MloopClientError';
  }
}

/** Options of {@link MloopClient}. */
export interface MloopClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  /** Project to act in (the `default` project when absent). */
  readonly project?: string;
}

type Query = Record<string, string | number | boolean | undefined | readonly string[]>;

/** A thin typed wrapper over `fetch`. */
export class MloopClient {
  readonly url: string;
  readonly #project: string | undefined;

  constructor(options: MloopClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#project = options.project;
  }

  /** Sends a request to `/api/v1{path}` and returns the parsed JSON answer. */
  async request<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const url = new URL(`${this.url}/api/v1${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, v);
      else url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (this.#project) headers['x-mloop-project'] = this.#project;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch (error) {
      throw new MloopClientError(`cannot reach mloop server at ${this.url}: ${(error as Error).message}`, 0, 'UNREACHABLE');
    }
    const text = await response.text();
    const parsed: unknown = text === '' ? undefined : safeJson(text);
    if (!response.ok) {
      const problem = (parsed ?? {}) as { detail?: string; title?: string; code?: string; errors?: { field: string; reason: string }[] };
      throw new MloopClientError(
        problem.detail ?? problem.title ?? `HTTP ${response.status}`,
        response.status,
        problem.code ?? `HTTP_${response.status}`,
        problem.errors ?? [],
      );
    }
    return parsed as T;
  }
}

/** A page of results with the token of the next page. */
export interface Page {
  readonly next_page_token?: string;
}

/** Search options shared by list calls. */
export interface ListOptions {
  readonly filter?: string;
  readonly orderBy?: readonly string[];
  readonly maxResults?: number;
  readonly pageToken?: string;
  readonly viewType?: 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
}

/** The typed operations of the tracking and registry APIs. */
export class MloopApi extends MloopClient {
  listExperiments(options: ListOptions = {}): Promise<{ experiments: Experiment[] } & Page> {
    return this.request('GET', '/experiments', { query: listQuery(options) });
  }

  createExperiment(input: { name: string; artifact_location?: string; tags?: Record<string, string> }): Promise<Experiment> {
    return this.request('POST', '/experiments', { body: input });
  }

  getExperiment(id: string): Promise<Experiment> {
    return this.request('GET', `/experiments/${encodeURIComponent(id)}`);
  }

  listRuns(experimentIds: readonly string[], options: ListOptions = {}): Promise<{ runs: Run[] } & Page> {
    return this.request('GET', '/runs', { query: { experiment_id: experimentIds, ...listQuery(options) } });
  }

  getRun(id: string): Promise<Run> {
    return this.request('GET', `/runs/${encodeURIComponent(id)}`);
  }

  getMetricHistory(runId: string, key: string): Promise<{ metrics: Metric[] }> {
    return this.request('GET', `/runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}`);
  }

  listModels(options: ListOptions = {}): Promise<{ models: Record<string, unknown>[] } & Page> {
    return this.request('GET', '/models', { query: listQuery(options) });
  }

  getModel(name: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/models/${encodeURIComponent(name)}`);
  }

  listModelVersions(name: string): Promise<{ versions: Record<string, unknown>[] }> {
    return this.request('GET', `/models/${encodeURIComponent(name)}/versions`);
  }

  setAlias(name: string, alias: string, version: string): Promise<Record<string, unknown>> {
    return this.request('PUT', `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { body: { version } });
  }

  getAlias(name: string, alias: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`);
  }

  deleteAlias(name: string, alias: string): Promise<void> {
    return this.request('DELETE', `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`);
  }
}

function listQuery(options: ListOptions): Query {
  return {
    filter: options.filter,
    order_by: options.orderBy,
    max_results: options.maxResults,
    page_token: options.pageToken,
    view_type: options.viewType,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}
