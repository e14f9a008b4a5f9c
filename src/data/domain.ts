/**
 * Datasets: the types of the data module and the pure rules about names, references and schemas.
 *
 * A dataset is a name in a project; its versions are immutable canonical Parquet files named by their
 * sha256. The schema (column types, nullability, tags) travels inside the file's footer, so it is part
 * of the content and of the version id.
 */
import { z } from 'zod';
import { invalidParam } from '../core/errors.ts';
import { isSha256Hex } from '../core/hashing.ts';

/** Logical column types of a dataset. */
export const COLUMN_TYPES = ['integer', 'float', 'boolean', 'string', 'timestamp'] as const;

/** A logical column type. */
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** Column tags with a meaning to the platform (others are accepted and kept). */
export const KNOWN_TAGS = ['pii', 'label', 'protected', 'timestamp', 'entity'] as const;

/** The DuckDB type each logical type is stored as in canonical Parquet. */
export const STORAGE_TYPES: Readonly<Record<ColumnType, string>> = Object.freeze({
  integer: 'BIGINT',
  float: 'DOUBLE',
  boolean: 'BOOLEAN',
  string: 'VARCHAR',
  timestamp: 'TIMESTAMPTZ',
});

/** Input formats accepted for upload. */
export const DATA_FORMATS = ['csv', 'parquet', 'jsonl'] as const;

/** An input format. */
export type DataFormat = (typeof DATA_FORMATS)[number];

/** One column of a version's schema. */
export interface ColumnSchema {
  readonly name: string;
  readonly type: ColumnType;
  /** True when nulls are allowed: as declared, else whether the data holds any. */
  readonly nullable: boolean;
  readonly tags: readonly string[];
  readonly description?: string;
}

/** The schema of a dataset version, in column order. */
export interface DatasetSchema {
  readonly columns: readonly ColumnSchema[];
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Checks a dataset name; returns it. */
export function validateDatasetName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalidParam(
      field,
      `dataset name ${JSON.stringify(name)} is invalid: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return name;
}

const TAG_PATTERN = /^[a-z][a-z0-9_.:-]{0,63}$/;

const declaredColumn = z.strictObject({
  name: z.string().min(1, 'must not be empty').max(255, 'at most 255 characters'),
  type: z
    .enum([...COLUMN_TYPES, 'categorical'], { error: `expected one of ${COLUMN_TYPES.join(', ')} (or categorical)` })
    .transform((t): ColumnType => (t === 'categorical' ? 'string' : t))
    .optional(),
  nullable: z.boolean({ error: 'expected true or false' }).optional(),
  tags: z
    .array(z.string().regex(TAG_PATTERN, 'tags are lowercase words such as pii, label, protected, timestamp, entity'))
    .max(32, 'at most 32 tags')
    .optional(),
  description: z.string().max(2000).optional(),
});

/**
 * A declared schema, as written in YAML or JSON: columns with an optional type (overriding
 * inference), nullability and tags. With `strict`, the file must have exactly these columns.
 */
export const declaredSchemaSchema = z
  .strictObject({
    columns: z.array(declaredColumn).max(10_000),
    strict: z.boolean().optional(),
  })
  .superRefine((schema, ctx) => {
    const seen = new Set<string>();
    schema.columns.forEach((c, i) => {
      const key = c.name.toLowerCase();
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['columns', i, 'name'], message: `column "${c.name}" is declared twice` });
      seen.add(key);
    });
  });

/** A declared schema after validation. */
export type DeclaredSchema = z.output<typeof declaredSchemaSchema>;

/** A reference to one version: a dataset name and a version (full sha256, a unique prefix, or `latest`). */
export interface VersionRef {
  readonly name: string;
  readonly version: string;
}

/** Parses `name@version` (version defaults to `latest`). */
export function parseVersionRef(text: string, field = 'dataset'): VersionRef {
  const at = text.lastIndexOf('@');
  const name = at === -1 ? text : text.slice(0, at);
  const version = at === -1 ? 'latest' : text.slice(at + 1);
  validateDatasetName(name, field);
  return { name, version: validateVersionSelector(version, field) };
}

/** Checks a version selector: `latest`, a sha256, or a hex prefix of at least 6 characters. */
export function validateVersionSelector(version: string, field = 'version'): string {
  if (version === 'latest' || isSha256Hex(version) || /^[0-9a-f]{6,63}$/.test(version)) return version;
  throw invalidParam(field, `version ${JSON.stringify(version)} is not "latest", a sha256 or a hex prefix of at least 6 characters`);
}

/** `name@sha256` as shown to users and recorded by other modules. */
export function formatVersionRef(name: string, version: string): string {
  return `${name}@${version}`;
}

/** The URI scheme by which other modules (and MLflow clients) name a dataset version. */
export const DATASET_URI_PREFIX = 'mloop-dataset:';

/** Parses `mloop-dataset:<name>@<version>`; undefined when `source` is not such a URI. */
export function parseDatasetUri(source: string): VersionRef | undefined {
  if (!source.startsWith(DATASET_URI_PREFIX)) return undefined;
  return parseVersionRef(source.slice(DATASET_URI_PREFIX.length), 'source');
}

/** Histogram of a numeric column: `counts[i]` values lie in `[edges[i], edges[i+1])`, the last bin closed. */
export interface Histogram {
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

/** One frequent value of a column. */
export interface CategoryCount {
  readonly value: string;
  readonly count: number;
  /** Share of the non-null values. */
  readonly frequency: number;
}

/** Quantile levels every numeric profile holds, keyed as `p01`... */
export const QUANTILE_LEVELS = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;

/** Quantiles by name (`p01`, `p05`, `p25`, `p50`, `p75`, `p95`, `p99`). */
export type Quantiles = Readonly<Record<string, number>>;

/** The profile of one column. Numeric fields of timestamp columns are in epoch milliseconds. */
export interface ColumnProfile {
  readonly name: string;
  readonly type: ColumnType;
  /** Non-null values. */
  readonly count: number;
  readonly nulls: number;
  readonly null_fraction: number;
  readonly distinct: number;
  /** False when `distinct` is a HyperLogLog estimate (very large columns). */
  readonly distinct_exact: boolean;
  readonly min?: number | string | boolean;
  readonly max?: number | string | boolean;
  readonly mean?: number;
  /** Sample standard deviation (n - 1), as pandas reports it. */
  readonly std?: number;
  readonly quantiles?: Quantiles;
  readonly histogram?: Histogram;
  /** ±Infinity values, left out of the moments and the histogram. */
  readonly infinite?: number;
  /** The most frequent values (strings and booleans), most frequent first. */
  readonly top?: readonly CategoryCount[];
  /** Non-null values outside `top`. */
  readonly other_count?: number;
  readonly min_length?: number;
  readonly max_length?: number;
}

/** The profile of a version. */
export interface DatasetProfile {
  readonly row_count: number;
  readonly column_count: number;
  /** False when quantiles and distinct counts of some columns are estimates (very large versions). */
  readonly exact: boolean;
  readonly columns: readonly ColumnProfile[];
}

/** Where a version came from. */
export interface VersionSource {
  readonly format: DataFormat | 'derived';
  /** Uploaded file name or URI, when known. */
  readonly name?: string;
  /** sha256 of the bytes as uploaded. */
  readonly sha256?: string;
  readonly bytes?: number;
}

/** How a derived version was produced. */
export interface Transformation {
  /** What made it (`feature_retrieval`, `sql`, `split`, ...). */
  readonly kind: string;
  readonly description?: string;
  /** Parameters, definitions or the code of the transformation (JSON). */
  readonly params?: Readonly<Record<string, unknown>>;
}

/** Validation state of a version: that of its latest validation report. */
export type ValidationStatus = 'unvalidated' | 'passed' | 'warned' | 'failed';

/** A version's metadata as the API returns it (the profile only on request). */
export interface DatasetVersion {
  readonly dataset: string;
  readonly project: string;
  readonly version: string;
  readonly created_at: number;
  readonly created_by: string;
  readonly description?: string;
  readonly size_bytes: number;
  readonly row_count: number;
  readonly column_count: number;
  readonly schema: DatasetSchema;
  readonly source: VersionSource;
  readonly lineage: { readonly parents: readonly VersionRef[]; readonly transformation?: Transformation };
  readonly validation: { readonly status: ValidationStatus; readonly report_id?: string; readonly evaluated_at?: number };
  readonly profile?: DatasetProfile;
}

/** A dataset as the API lists it. */
export interface Dataset {
  readonly name: string;
  readonly project: string;
  readonly description?: string;
  readonly created_at: number;
  readonly updated_at: number;
  readonly version_count: number;
  readonly latest_version?: string;
  /** The schema declared with `PUT .../schema`, applied to later uploads. */
  readonly declared_schema?: DeclaredSchema;
}

/** Something that uses a version and keeps it from being deleted. */
export interface Dependent {
  /** `run`, `model_version`, `feature_view`, `dataset_version`, `pipeline_step`, ... */
  readonly kind: string;
  /** Its id within the kind (`<run_id>`, `<model>/<version>`, `<dataset>@<sha256>`, ...). */
  readonly id: string;
}

const DEPENDENT_KIND = /^[a-z][a-z0-9_]{0,63}$/;

/** Checks a dependent; returns it. */
export function validateDependent(dependent: Dependent): Dependent {
  if (typeof dependent?.kind !== 'string' || !DEPENDENT_KIND.test(dependent.kind)) {
    throw invalidParam('dependent.kind', `expected a lowercase identifier such as run or model_version, got ${JSON.stringify(dependent?.kind)}`);
  }
  if (typeof dependent.id !== 'string' || dependent.id === '' || dependent.id.length > 512) {
    throw invalidParam('dependent.id', 'expected a non-empty id of at most 512 characters');
  }
  return { kind: dependent.kind, id: dependent.id };
}
