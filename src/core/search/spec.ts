/**
 * What each MLflow search accepts: entities, attribute keys and their types, comparators, order_by keys.
 *
 * The tables follow MLflow's `mlflow/utils/search_utils.py` and its SQL stores (runs: `SearchUtils`;
 * experiments: `SearchExperimentsUtils`; registered models and model versions: the registry's
 * SQLAlchemy store). Keys in these tables are canonical: aliases are listed separately and resolved
 * by the parsers, so compilers only ever see canonical keys.
 */

/** The four MLflow searches. */
export type SearchKind = 'runs' | 'experiments' | 'registered_models' | 'model_versions';

/** Every search kind, in a fixed order. */
export const SEARCH_KINDS: readonly SearchKind[] = ['runs', 'experiments', 'registered_models', 'model_versions'];

/** What a comparison's left-hand side refers to. `param` is MLflow's `parameter`. */
export type Entity = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';

/** Comparators that take a number (metrics, numeric attributes). */
export type NumericComparator = '=' | '!=' | '<' | '<=' | '>' | '>=';
/** Comparators that take a single string. */
export type StringComparator = '=' | '!=' | 'LIKE' | 'ILIKE';
/** Comparators that take a non-empty list of strings. */
export type ListComparator = 'IN' | 'NOT IN';
/** Comparators that take no value (key present or absent). */
export type NullComparator = 'IS NULL' | 'IS NOT NULL';
/** Every comparator of the grammar, upper-cased. */
export type Comparator = NumericComparator | StringComparator | ListComparator | NullComparator;

/** The numeric comparators, in the order error messages list them. */
export const NUMERIC_COMPARATORS: readonly NumericComparator[] = ['=', '!=', '<', '<=', '>', '>='];
/** The single-string comparators. */
export const STRING_COMPARATORS: readonly StringComparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
/** The list comparators. */
export const LIST_COMPARATORS: readonly ListComparator[] = ['IN', 'NOT IN'];
/** The value-less comparators. */
export const NULL_COMPARATORS: readonly NullComparator[] = ['IS NULL', 'IS NOT NULL'];

/** A searchable attribute: its value type and the comparators a filter may use on it. */
export interface AttributeSpec {
  readonly type: 'string' | 'number';
  readonly comparators: readonly Comparator[];
}

/** Entities an `order_by` clause may name. */
export type OrderByEntity = Exclude<Entity, 'dataset'>;

/** Everything the parsers need to know about one search kind. */
export interface SearchSpec {
  readonly kind: SearchKind;
  /** Human name used in messages ("run search"). */
  readonly label: string;
  /** Accepted `<prefix>.` spellings and the entity each means. Bare keys are always attributes. */
  readonly prefixes: Readonly<Record<string, Entity>>;
  /** Comparators per non-attribute entity; an entity missing here cannot be filtered on. */
  readonly entityComparators: Readonly<Partial<Record<Exclude<Entity, 'attribute'>, readonly Comparator[]>>>;
  /** Filterable attributes by canonical key. */
  readonly filterAttributes: Readonly<Record<string, AttributeSpec>>;
  /** Other spellings of filterable attributes, mapped to their canonical key. */
  readonly filterAliases: Readonly<Record<string, string>>;
  /** Keys valid after `datasets.` (runs only). */
  readonly datasetKeys: readonly string[];
  /** Entities an `order_by` clause may name. */
  readonly orderByEntities: readonly OrderByEntity[];
  /** Orderable attributes, canonical keys. */
  readonly orderByAttributes: readonly string[];
  /** Other spellings of orderable attributes, mapped to their canonical key. */
  readonly orderByAliases: Readonly<Record<string, string>>;
}

const STRING_ATTR: AttributeSpec = { type: 'string', comparators: STRING_COMPARATORS };
const NUMBER_ATTR: AttributeSpec = { type: 'number', comparators: NUMERIC_COMPARATORS };
const NULLABLE_STRING: readonly Comparator[] = [...STRING_COMPARATORS, ...NULL_COMPARATORS];

// MLflow's registry, experiment and model-version parsers accept only these three prefixes
// (not `attributes.`, `attr.` or `run.`), so neither do we.
const REGISTRY_PREFIXES: Readonly<Record<string, Entity>> = { attribute: 'attribute', tag: 'tag', tags: 'tag' };

const RUNS: SearchSpec = {
  kind: 'runs',
  label: 'run search',
  prefixes: {
    metric: 'metric',
    metrics: 'metric',
    parameter: 'param',
    parameters: 'param',
    param: 'param',
    params: 'param',
    tag: 'tag',
    tags: 'tag',
    attribute: 'attribute',
    attributes: 'attribute',
    attr: 'attribute',
    run: 'attribute',
    dataset: 'dataset',
    datasets: 'dataset',
  },
  entityComparators: {
    metric: NUMERIC_COMPARATORS,
    param: NULLABLE_STRING,
    tag: NULLABLE_STRING,
    dataset: [...STRING_COMPARATORS, ...LIST_COMPARATORS],
  },
  filterAttributes: {
    run_id: { type: 'string', comparators: [...STRING_COMPARATORS, ...LIST_COMPARATORS] },
    run_name: STRING_ATTR,
    status: STRING_ATTR,
    user_id: STRING_ATTR,
    artifact_uri: STRING_ATTR,
    start_time: NUMBER_ATTR,
    end_time: NUMBER_ATTR,
  },
  filterAliases: {
    created: 'start_time',
    Created: 'start_time',
    'run name': 'run_name',
    'Run name': 'run_name',
    'Run Name': 'run_name',
  },
  datasetKeys: ['name', 'digest', 'context'],
  orderByEntities: ['metric', 'param', 'tag', 'attribute'],
  orderByAttributes: ['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', 'end_time'],
  orderByAliases: { created: 'start_time', Created: 'start_time' },
};

const EXPERIMENTS: SearchSpec = {
  kind: 'experiments',
  label: 'experiment search',
  prefixes: REGISTRY_PREFIXES,
  entityComparators: { tag: NULLABLE_STRING },
  filterAttributes: { name: STRING_ATTR, creation_time: NUMBER_ATTR, last_update_time: NUMBER_ATTR },
  filterAliases: {},
  datasetKeys: [],
  orderByEntities: ['attribute'],
  orderByAttributes: ['name', 'experiment_id', 'creation_time', 'last_update_time'],
  orderByAliases: {},
};

const REGISTERED_MODELS: SearchSpec = {
  kind: 'registered_models',
  label: 'registered model search',
  prefixes: REGISTRY_PREFIXES,
  entityComparators: { tag: STRING_COMPARATORS },
  filterAttributes: { name: STRING_ATTR },
  filterAliases: {},
  datasetKeys: [],
  orderByEntities: ['attribute'],
  // MLflow's SQL registry store orders registered models by these only; `timestamp` means the last update.
  orderByAttributes: ['name', 'last_updated_timestamp'],
  orderByAliases: { timestamp: 'last_updated_timestamp' },
};

const MODEL_VERSIONS: SearchSpec = {
  kind: 'model_versions',
  label: 'model version search',
  prefixes: REGISTRY_PREFIXES,
  entityComparators: { tag: STRING_COMPARATORS },
  filterAttributes: {
    name: STRING_ATTR,
    version_number: NUMBER_ATTR,
    // MLflow allows IN (not NOT IN) on run_id for model versions.
    run_id: { type: 'string', comparators: [...STRING_COMPARATORS, 'IN'] },
    source_path: STRING_ATTR,
  },
  filterAliases: {},
  datasetKeys: [],
  orderByEntities: ['attribute'],
  orderByAttributes: ['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'],
  orderByAliases: {},
};

/**
 * The search tables of every kind. Compilers may read them (for instance to know an attribute's type),
 * but the parsers already enforce everything in them.
 *
 * Canonical attribute keys, by kind:
 * - runs: `run_id`, `run_name`, `status`, `user_id`, `artifact_uri`, `start_time`, `end_time`
 *   (`created`/`Created` → `start_time`, `run name`/`Run name`/`Run Name` → `run_name`);
 *   `lifecycle_stage` is not searchable (MLflow encodes it in `run_view_type`).
 * - experiments: `name`, `creation_time`, `last_update_time`; order_by also `experiment_id`.
 * - registered models: `name`; order_by `name`, `last_updated_timestamp` (alias `timestamp`).
 * - model versions: `name`, `version_number`, `run_id`, `source_path`; order_by `name`,
 *   `version_number`, `creation_timestamp`, `last_updated_timestamp`.
 */
export const SEARCH_SPECS: Readonly<Record<SearchKind, SearchSpec>> = {
  runs: RUNS,
  experiments: EXPERIMENTS,
  registered_models: REGISTERED_MODELS,
  model_versions: MODEL_VERSIONS,
};

/** Renders a list the way MLflow's messages do: `['=', '!=']`. */
export function formatList(items: readonly string[]): string {
  return `[${items.map((item) => `'${item}'`).join(', ')}]`;
}
