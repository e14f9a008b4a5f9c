/** The TypeScript client of mloop's own API (`/api/v1`). The CLI is built on it. */
import type { ProfileDiff } from '../data/diff.ts';
import type { Dataset, DatasetProfile, DatasetVersion, DataFormat } from '../data/domain.ts';
import type { Job } from '../jobs/domain.ts';
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

  /** Sends a request with a JSON body (when given) to `/api/v1{path}` and returns the parsed JSON answer. */
  async request<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const response = await this.send(method, path, {
      query: options.query,
      body: options.body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(options.body)),
      headers: { accept: 'application/json', ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    });
    const text = await response.text();
    return (text === '' ? undefined : safeJson(text)) as T;
  }

  /**
   * Sends a request with a raw body (a buffer or a stream, e.g. a data file) or for a raw answer;
   * returns the response once its status is known to be a success. A failure is a
   * {@link MloopClientError} carrying the problem details the server answered, or `UNREACHABLE`.
   */
  async send(
    method: string,
    path: string,
    options: { query?: Query; body?: Uint8Array | AsyncIterable<Uint8Array>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const url = new URL(`${this.url}/api/v1${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, v);
      else url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (this.#project) headers['x-mloop-project'] = this.#project;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body as BodyInit | undefined,
        // Streams need half-duplex; buffers are sent as they are.
        ...(options.body && !(options.body instanceof Uint8Array) ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      throw new MloopClientError(`cannot reach mloop server at ${this.url}: ${(error as Error).message}`, 0, 'UNREACHABLE');
    }
    if (!response.ok) {
      const text = await response.text();
      const problem = (text === '' ? {} : safeJson(text)) as { detail?: string; title?: string; code?: string; errors?: { field: string; reason: string }[] };
      throw new MloopClientError(
        problem.detail || problem.title || `HTTP ${response.status}`,
        response.status,
        problem.code ?? `HTTP_${response.status}`,
        problem.errors ?? [],
      );
    }
    return response;
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
  /** A page of experiments matching an MLflow filter (active ones unless `viewType` says otherwise). */
  listExperiments(options: ListOptions = {}): Promise<{ experiments: Experiment[] } & Page> {
    return this.request('GET', '/experiments', { query: listQuery(options) });
  }

  /** Creates an experiment; its artifacts go under `artifact_location` (the server's artifact root by default). */
  createExperiment(input: { name: string; artifact_location?: string; tags?: Record<string, string> }): Promise<Experiment> {
    return this.request('POST', '/experiments', { body: input });
  }

  /** One experiment with its tags. */
  getExperiment(id: string): Promise<Experiment> {
    return this.request('GET', `/experiments/${encodeURIComponent(id)}`);
  }

  /** A page of the runs of `experimentIds` matching an MLflow filter. */
  listRuns(experimentIds: readonly string[], options: ListOptions = {}): Promise<{ runs: Run[] } & Page> {
    return this.request('GET', '/runs', { query: { experiment_id: experimentIds, ...listQuery(options) } });
  }

  /** One run: info, params, latest metrics, tags and dataset inputs. */
  getRun(id: string): Promise<Run> {
    return this.request('GET', `/runs/${encodeURIComponent(id)}`);
  }

  /** Every logged point of metric `key` of a run. */
  getMetricHistory(runId: string, key: string): Promise<{ metrics: Metric[] }> {
    return this.request('GET', `/runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}`);
  }

  /** A page of registered models matching an MLflow filter. */
  listModels(options: ListOptions = {}): Promise<{ models: Record<string, unknown>[] } & Page> {
    return this.request('GET', '/models', { query: listQuery(options) });
  }

  /** One registered model with its latest versions, tags and aliases. */
  getModel(name: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/models/${encodeURIComponent(name)}`);
  }

  /** Every version of a registered model, newest first. */
  listModelVersions(name: string): Promise<{ versions: Record<string, unknown>[] }> {
    return this.request('GET', `/models/${encodeURIComponent(name)}/versions`);
  }

  /** Points `alias` at `version` of model `name`; resolves that version. */
  setAlias(name: string, alias: string, version: string): Promise<Record<string, unknown>> {
    return this.request('PUT', `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { body: { version } });
  }

  /** The version `alias` of model `name` points at. */
  getAlias(name: string, alias: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`);
  }

  /** Removes `alias` of model `name`. */
  deleteAlias(name: string, alias: string): Promise<void> {
    return this.request('DELETE', `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`);
  }

  // ---- datasets ----

  listDatasets(): Promise<{ datasets: Dataset[] }> {
    return this.request('GET', '/datasets');
  }

  getDataset(name: string): Promise<Dataset> {
    return this.request('GET', `/datasets/${encodeURIComponent(name)}`);
  }

  /** Uploads a data file (streamed) as a version; `created` is false when the content already was one. */
  async addDatasetVersion(
    name: string,
    body: Uint8Array | AsyncIterable<Uint8Array>,
    options: { format: DataFormat; schema?: unknown; source?: string; description?: string; size?: number },
  ): Promise<{ created: boolean; version: DatasetVersion }> {
    const response = await this.send('POST', `/datasets/${encodeURIComponent(name)}/versions`, {
      query: {
        format: options.format,
        schema: options.schema === undefined ? undefined : JSON.stringify(options.schema),
        source: options.source,
        description: options.description,
      },
      body,
      headers: { 'content-type': 'application/octet-stream', ...(options.size !== undefined ? { 'content-length': String(options.size) } : {}) },
    });
    return (await response.json()) as { created: boolean; version: DatasetVersion };
  }

  listDatasetVersions(name: string): Promise<{ versions: DatasetVersion[] }> {
    return this.request('GET', `/datasets/${encodeURIComponent(name)}/versions`);
  }

  getDatasetVersion(name: string, version = 'latest', options: { profile?: boolean } = {}): Promise<DatasetVersion> {
    return this.request('GET', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`, {
      query: { profile: options.profile === false ? 'false' : undefined },
    });
  }

  getDatasetProfile(name: string, version = 'latest'): Promise<DatasetProfile> {
    return this.request('GET', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/profile`);
  }

  /** The content of a version as a streaming response (Parquet, or CSV). */
  downloadDatasetVersion(name: string, version = 'latest', format: 'parquet' | 'csv' = 'parquet'): Promise<Response> {
    return this.send('GET', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/content`, { query: { format } });
  }

  deleteDatasetVersion(name: string, version: string): Promise<{ version: string }> {
    return this.request('DELETE', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`);
  }

  deleteDataset(name: string): Promise<{ deleted_versions: number; versions: string[] }> {
    return this.request('DELETE', `/datasets/${encodeURIComponent(name)}`);
  }

  setDatasetSchema(name: string, schema: unknown): Promise<{ schema: unknown }> {
    return this.request('PUT', `/datasets/${encodeURIComponent(name)}/schema`, { body: schema });
  }

  /** Runs validation rules (the parsed YAML/JSON document) on a version; returns the stored report. */
  validateDataset(name: string, version: string, rules: unknown): Promise<DatasetValidationReport> {
    return this.request('POST', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/validations`, { body: rules });
  }

  listDatasetValidations(name: string, version: string): Promise<{ validations: DatasetValidationReport[] }> {
    return this.request('GET', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/validations`);
  }

  /** Retracts validation report `id` of a version; returns the version's validation state without it. */
  deleteDatasetValidation(name: string, version: string, id: string): Promise<{ deleted: string; dataset: string; version: string; validation: DatasetVersion['validation'] }> {
    return this.request('DELETE', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/validations/${encodeURIComponent(id)}`);
  }

  /** Compares `version` against `base` (`<version>` of the same dataset, or `<dataset>@<version>`). */
  diffDatasetVersions(name: string, version: string, base: string): Promise<DatasetDiffResult> {
    return this.request('GET', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/diff`, { query: { base } });
  }

  /** Resolves when the version may be used (not failed validation); rejects with the failed rules otherwise. */
  assertDatasetUsable(name: string, version: string, options: { requireValidation?: boolean } = {}): Promise<{ usable: true; version: string }> {
    return this.request('GET', `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/usable`, {
      query: { require_validation: options.requireValidation ? 'true' : undefined },
    });
  }

  listDatasetDependents(name: string, version?: string): Promise<{ dependents: { dataset: string; version: string; kind: string; id: string }[] }> {
    const path = version === undefined ? `/datasets/${encodeURIComponent(name)}/dependents` : `/datasets/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/dependents`;
    return this.request('GET', path);
  }

  // ---- feature store ----

  /**
   * Applies a definitions document — YAML text, or the object the `features/define.ts` builders make;
   * every changed definition gets a new version.
   */
  applyFeatures(definitions: string | object): Promise<{ results: { kind: string; name: string; version: string; status: string }[] }> {
    return this.request('POST', '/features/apply', { body: typeof definitions === 'string' ? { yaml: definitions } : definitions });
  }

  /** The current version of every feature definition (of one kind when given). */
  listFeatureDefinitions(kind?: string): Promise<{ definitions: FeatureDefinition[] }> {
    return this.request('GET', '/features/definitions', { query: { kind } });
  }

  /** One feature definition, current or at `version`. */
  getFeatureDefinition(kind: string, name: string, version?: string): Promise<FeatureDefinition> {
    return this.request('GET', `/features/definitions/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`, { query: { version } });
  }

  /** Every version of a feature definition. */
  listFeatureDefinitionVersions(kind: string, name: string): Promise<{ versions: FeatureDefinition[] }> {
    return this.request('GET', `/features/definitions/${encodeURIComponent(kind)}/${encodeURIComponent(name)}/versions`);
  }

  /** Online values of a feature service or feature list for entity rows. */
  getOnlineFeatures(body: { feature_service?: string; features?: string[]; entities?: Record<string, unknown[]>; entity_rows?: Record<string, unknown>[]; full_feature_names?: boolean }): Promise<{
    feature_names: string[];
    results: { entity: Record<string, unknown>; values: Record<string, unknown>; statuses: Record<string, string>; event_timestamps: Record<string, string | null> }[];
  }> {
    return this.request('POST', '/features/online', { body });
  }

  /** Pushes source rows to the online and/or offline store. */
  pushFeatures(body: { feature_view: string; rows: Record<string, unknown>[]; to?: 'online' | 'offline' | 'online_and_offline' }): Promise<Record<string, unknown>> {
    return this.request('POST', '/features/push', { body });
  }

  /** Point-in-time retrieval; `onProgress` receives progress events while the server works. */
  retrieveFeatures(body: Record<string, unknown>, onProgress?: (p: FeatureProgress) => void): Promise<Record<string, unknown>> {
    return this.#streamed('/features/retrieve', body, onProgress);
  }

  /** Materializes feature views into the online store; `onProgress` receives progress events. */
  materializeFeatures(body: { views?: string[]; start?: string | number; end?: string | number; incremental?: boolean }, onProgress?: (p: FeatureProgress) => void): Promise<{ views: Record<string, unknown>[] }> {
    return this.#streamed('/features/materialize', body, onProgress);
  }

  /** Compares logged serving values with an offline recomputation. */
  checkFeatureSkew(body: Record<string, unknown>): Promise<{ rows: number; features: { feature: string; compared: number; mismatches: number; mismatch_rate: number; examples: unknown[] }[] }> {
    return this.request('POST', '/features/skew', { body });
  }

  /** Records that a model version consumes a feature service. */
  linkFeatureConsumer(body: { model: string; version: string | number; feature_service: string }): Promise<Record<string, unknown>> {
    return this.request('POST', '/features/consumers', { body });
  }

  /** Consumers of a feature view: services, on-demand views, model versions, deployments, training sets. */
  featureImpact(featureView: string): Promise<{ feature_view: string; versions: string[]; consumers: { kind: string; id: string; depth: number; via: { kind: string; id: string; relation: string } }[] }> {
    return this.request('GET', '/lineage/impact', { query: { feature_view: featureView } });
  }

  // ---- training, tuning, evaluation, jobs ----

  /** Starts a training job (see `training/spec.ts` for the request); resolves the QUEUED job. */
  submitTraining(body: Record<string, unknown>): Promise<Job> {
    return this.request('POST', '/training/jobs', { body });
  }

  /** Checks a training request without starting it; resolves the resolved plan. */
  planTraining(body: Record<string, unknown>): Promise<{ plan: Record<string, unknown> }> {
    return this.request('POST', '/training/jobs', { body, query: { dry_run: 'true' } });
  }

  /** Starts a tuning job; resolves the QUEUED job. */
  submitTuning(body: Record<string, unknown>): Promise<Job> {
    return this.request('POST', '/training/tuning-jobs', { body });
  }

  /** Checks a tuning request without starting it. */
  planTuning(body: Record<string, unknown>): Promise<{ plan: Record<string, unknown> }> {
    return this.request('POST', '/training/tuning-jobs', { body, query: { dry_run: 'true' } });
  }

  /** The model kinds the server trains, with tasks and default hyperparameters. */
  modelKinds(): Promise<{ model_kinds: { kind: string; description: string; tasks: string[]; dp: boolean; defaults: Record<string, unknown>; iteration_param?: string }[] }> {
    return this.request('GET', '/training/model-kinds');
  }

  /** A job of any kind. */
  getJob(id: string): Promise<Job> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  /** Jobs, newest first. */
  listJobs(options: { kind?: string; status?: string; maxResults?: number; pageToken?: string } = {}): Promise<{ jobs: Job[]; next_page_token?: string }> {
    return this.request('GET', '/jobs', { query: { kind: options.kind, status: options.status, max_results: options.maxResults, page_token: options.pageToken } });
  }

  /** Cancels a queued or running job. */
  cancelJob(id: string): Promise<Job> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/cancel`, { body: {} });
  }

  /** Polls a job until it is final, reporting each change of progress; resolves the final job. */
  async waitForJob(id: string, options: { onProgress?: (job: Job) => void; pollMs?: number; timeoutMs?: number } = {}): Promise<Job> {
    const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600_000);
    let last = '';
    for (;;) {
      const job = await this.getJob(id);
      const seen = `${job.status}|${job.progress}|${job.message ?? ''}`;
      if (seen !== last) {
        last = seen;
        options.onProgress?.(job);
      }
      if (job.status === 'SUCCEEDED' || job.status === 'FAILED' || job.status === 'CANCELLED') return job;
      if (Date.now() > deadline) throw new MloopClientError(`job ${id} is still ${job.status} after the timeout`, 0, 'TIMEOUT');
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  }

  /** Starts an evaluation job (`model` is `name`, `name@version` or `name@alias`); resolves the QUEUED job. */
  submitEvaluation(body: Record<string, unknown>): Promise<Job> {
    return this.request('POST', '/evaluations', { body });
  }

  /** A stored evaluation report. */
  getEvaluation(id: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/evaluations/${encodeURIComponent(id)}`);
  }

  /** Stored evaluations, newest first. */
  listEvaluations(options: { model?: string; version?: string } = {}): Promise<{ evaluations: Record<string, unknown>[]; next_page_token?: string }> {
    return this.request('GET', '/evaluations', { query: { model: options.model, version: options.version } });
  }

  /** Declares the validation gate of a registered model. */
  setGate(name: string, spec: unknown): Promise<{ gate: Record<string, unknown> }> {
    return this.request('PUT', `/models/${encodeURIComponent(name)}/gate`, { body: spec });
  }

  /** The validation gate of a registered model (null when none). */
  getGate(name: string): Promise<{ gate: Record<string, unknown> | null }> {
    return this.request('GET', `/models/${encodeURIComponent(name)}/gate`);
  }

  /** Removes the validation gate of a registered model. */
  deleteGate(name: string): Promise<void> {
    return this.request('DELETE', `/models/${encodeURIComponent(name)}/gate`);
  }

  /** Declares intended use, limitations and owners shown in the model cards of a registered model. */
  setCardSpec(name: string, spec: unknown): Promise<{ card: Record<string, unknown> }> {
    return this.request('PUT', `/models/${encodeURIComponent(name)}/card-spec`, { body: spec });
  }

  /** The model card of a version (or alias) as Markdown or HTML text. */
  async modelCard(name: string, version: string, format: 'md' | 'html' = 'md'): Promise<string> {
    const response = await this.send('GET', `/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/card`, { query: { format } });
    return response.text();
  }

  /** Registers an ONNX file trained elsewhere as a new version of `name`. */
  async registerOnnx(
    name: string,
    bytes: Uint8Array,
    options: { task?: string; target?: string; classes?: readonly string[]; columns?: readonly string[]; probabilitiesOutput?: string; valueOutput?: string; labelOutput?: string; description?: string } = {},
  ): Promise<{ model_version: Record<string, unknown>; signature: Record<string, unknown> }> {
    const response = await this.send('POST', `/models/${encodeURIComponent(name)}/versions/onnx`, {
      query: {
        task: options.task,
        target: options.target,
        classes: options.classes?.join(','),
        columns: options.columns?.join(','),
        probabilities_output: options.probabilitiesOutput,
        value_output: options.valueOutput,
        label_output: options.labelOutput,
        description: options.description,
      },
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    return (await response.json()) as { model_version: Record<string, unknown>; signature: Record<string, unknown> };
  }

  /** Posts `body` asking for NDJSON progress lines; resolves the final result. */
  async #streamed<T>(path: string, body: unknown, onProgress?: (p: FeatureProgress) => void): Promise<T> {
    const response = await this.send('POST', path, {
      body: new TextEncoder().encode(JSON.stringify(body)),
      headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
    });
    let buffer = '';
    let result: T | undefined;
    const decoder = new TextDecoder();
    const handle = (line: string) => {
      if (line.trim() === '') return;
      const message = JSON.parse(line) as { progress?: FeatureProgress; result?: T; error?: { code: string; message: string; fields: { field: string; reason: string }[] } };
      if (message.progress) onProgress?.(message.progress);
      if (message.error) throw new MloopClientError(message.error.message, 400, message.error.code, message.error.fields);
      if (message.result !== undefined) result = message.result;
    };
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        handle(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
    }
    handle(buffer);
    if (result === undefined) throw new MloopClientError(`no result from ${path}`, 502, 'BAD_RESPONSE');
    return result;
  }
}

/** A stored feature definition. */
export interface FeatureDefinition {
  readonly kind: string;
  readonly name: string;
  readonly version: string;
  readonly spec: Record<string, unknown>;
  readonly refs: Record<string, string>;
  readonly created_at: number;
  readonly current?: boolean;
}

/** Progress of a long feature-store operation. */
export interface FeatureProgress {
  readonly phase: string;
  readonly view?: string;
  readonly done: number;
  readonly total: number;
}

/** A stored validation report of a dataset version. */
export interface DatasetValidationReport {
  readonly id: string;
  readonly dataset: string;
  readonly version: string;
  readonly status: 'passed' | 'warned' | 'failed';
  /** sha256 of the rules document: reports of one rules set share it, and the latest is its verdict. */
  readonly rules_sha256: string;
  readonly evaluated_at: number;
  readonly evaluated_by: string;
  readonly row_count: number;
  readonly summary: { rules: number; passed: number; failed_errors: number; failed_warnings: number };
  readonly results: {
    name: string;
    rule: string;
    severity: 'error' | 'warn';
    passed: boolean;
    failing_count: number | null;
    message: string;
    sample?: Record<string, unknown>[];
  }[];
}

/** Two dataset versions compared. */
export type DatasetDiffResult = ProfileDiff & { base: { dataset: string; version: string }; target: { dataset: string; version: string } };

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
