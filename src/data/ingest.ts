/**
 * Ingestion: a CSV, JSON Lines or Parquet file on local disk → one canonical Parquet file.
 *
 * Canonical means the same logical data always gives the same bytes, whatever the input format or
 * its layout: columns in input order with the logical types of `domain.ts` stored as BIGINT, DOUBLE,
 * BOOLEAN, VARCHAR or TIMESTAMPTZ (UTC); float NaN stored as null; rows in input order; row groups of
 * exactly {@link ROW_GROUP_SIZE} rows (the final copy is ordered by input row number, which makes
 * DuckDB emit fixed-size batches whatever the input's chunking); zstd; and the schema (types,
 * nullability, tags) as JSON under the footer key {@link SCHEMA_KEY}. The footer's `created_by` names
 * the DuckDB version, so ids are stable for a given DuckDB release.
 *
 * Two passes: the input is first read into a staging Parquet file (CSV and JSON Lines only — there
 * DuckDB's reader reports bad rows by line and column), then types are settled, declared types and
 * nullability checked, and the canonical file written from the staging file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import { parseCsv } from '../core/csv.ts';
import { MloopError } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import type { DuckDb, DuckDbConnection } from '../storage/duckdb/engine.ts';
import { listLiteral, quoteIdent, quoteLiteral, structLiteral } from '../storage/duckdb/sql.ts';
import {
  STORAGE_TYPES,
  type ColumnSchema,
  type ColumnType,
  type DataFormat,
  type DatasetSchema,
  type DeclaredSchema,
} from './domain.ts';

/** Rows per row group of canonical Parquet. */
export const ROW_GROUP_SIZE = 122_880;

/** Footer key of the schema JSON in canonical Parquet. */
export const SCHEMA_KEY = 'mloop.schema';

/** Version of the canonical layout, recorded in the footer. */
export const CANONICAL_FORMAT = 'mloop.dataset/1';

/** Column name DuckDB reserves for row numbers when reading Parquet. */
const ROW_NUMBER = 'file_row_number';

/** What {@link canonicalize} needs to know. */
export interface CanonicalizeInput {
  /** The file to read. */
  readonly path: string;
  readonly format: DataFormat;
  /** Columns declared by the user (types, nullability, tags). */
  readonly declared?: DeclaredSchema;
  /** How errors name the input: `dataset "rides"`. */
  readonly label: string;
  /** A directory for staging files (removed files are this function's business). */
  readonly workDir: string;
}

/** A canonical Parquet file ready to be stored. */
export interface CanonicalFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly rowCount: number;
  readonly schema: DatasetSchema;
}

/** What a column's source type can become. */
type SourceKind = ColumnType | 'json';

interface SourceColumn {
  readonly name: string;
  readonly duckType: string;
  readonly kind: SourceKind;
}

/** Formats a count the way error messages print it (`1,204`). */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function dataError(label: string, message: string, field = 'file'): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', `${label}: ${message}`, { fields: [{ field, reason: message }] });
}

/**
 * Converts the file at `input.path` to canonical Parquet in `input.workDir`. Throws
 * INVALID_PARAMETER_VALUE naming the line (or row) and column of the first problem; leaves no file
 * behind on failure.
 */
export async function canonicalize(duck: DuckDb, input: CanonicalizeInput): Promise<CanonicalFile> {
  const info = await stat(input.path);
  if (info.size === 0) throw dataError(input.label, 'the file is empty');
  const id = newHexId();
  const staging = join(input.workDir, `${id}.staging.parquet`);
  const output = join(input.workDir, `${id}.parquet`);
  try {
    return await duck.withConnection(async (conn) => {
      let stagedPath = input.path;
      if (input.format === 'csv') {
        await stageCsv(conn, input, staging, id);
        stagedPath = staging;
      } else if (input.format === 'jsonl') {
        await stageJsonl(conn, input, staging);
        stagedPath = staging;
      } else {
        await checkParquet(conn, input);
      }
      return await writeCanonical(conn, input, stagedPath, output);
    });
  } catch (error) {
    await rm(output, { force: true });
    throw error;
  } finally {
    await rm(staging, { force: true });
  }
}

// ---- CSV ----

/** The CSV dialect mloop reads: RFC 4180 with a header line, comma-separated, UTF-8. */
function csvOptions(rejects: string, declared: Record<string, string>): string {
  const options = [
    'header = true',
    "delim = ','",
    `quote = '"'`,
    `escape = '"'`,
    "encoding = 'utf-8'",
    'strict_mode = true',
    'null_padding = false',
    // An empty unquoted field is null, a quoted "" is the empty string (as DuckDB writes them back).
    'allow_quoted_nulls = false',
    // Infer from every row, not a sample: a value late in the file must not break the sniffed type.
    'sample_size = -1',
    // Timestamps are recognised afterwards, the same way for every format.
    `auto_type_candidates = ${listLiteral(['BOOLEAN', 'BIGINT', 'DOUBLE', 'VARCHAR'])}`,
    'store_rejects = true',
    `rejects_table = ${quoteLiteral(`${rejects}_errors`)}`,
    `rejects_scan = ${quoteLiteral(`${rejects}_scans`)}`,
  ];
  if (Object.keys(declared).length > 0) options.push(`types = ${structLiteral(declared)}`);
  return options.join(', ');
}

/**
 * How the CSV reader reads a declared column. DuckDB's reader reports bad doubles and booleans by line,
 * but rounds "2.5" into a BIGINT and lets some bad timestamps through as null; those two are read as
 * text and converted strictly in the second pass.
 */
const CSV_READ_TYPES: Readonly<Record<ColumnType, string>> = {
  integer: 'VARCHAR',
  float: 'DOUBLE',
  boolean: 'BOOLEAN',
  string: 'VARCHAR',
  timestamp: 'VARCHAR',
};

async function stageCsv(conn: DuckDbConnection, input: CanonicalizeInput, staging: string, id: string): Promise<void> {
  const header = await readCsvHeader(input.path, input.label);
  checkColumnNames(header, input.label);
  const declaredTypes: Record<string, string> = {};
  const headerSet = new Set(header);
  for (const column of input.declared?.columns ?? []) {
    if (column.type && headerSet.has(column.name)) declaredTypes[column.name] = CSV_READ_TYPES[column.type];
  }
  const rejects = `rejects_${id}`;
  const source = `read_csv(${quoteLiteral(input.path)}, ${csvOptions(rejects, declaredTypes)})`;
  try {
    await conn.copyToParquet(`SELECT * FROM ${source}`, staging, { compression: 'uncompressed' });
  } catch (error) {
    // When the structure is too broken for DuckDB's sniffer, it cannot say where: find it ourselves.
    const located = await locateCsvProblem(input.path, header.length);
    if (located) throw dataError(input.label, located);
    throw readError(input.label, 'CSV', error);
  }
  const problems = await conn.rows<{ line: number; column_name: string | null; error_type: string; csv_line: string; error_message: string }>(
    `SELECT line, column_name, error_type, csv_line, error_message FROM ${quoteIdent(`${rejects}_errors`)} ORDER BY line, column_idx`,
  );
  if (problems.length > 0) {
    // DuckDB's `line` counts records (the header is 1); a quoted value may span lines, so the
    // record's physical line is found by scanning.
    const first = { ...problems[0], line: await csvLineOfRecord(input.path, Number(problems[0].line) - 2) };
    const more = problems.length > 1 ? ` (${formatCount(problems.length - 1)} more problem${problems.length > 2 ? 's' : ''} after it)` : '';
    const field = first.error_type === 'CAST' && first.column_name ? first.column_name : 'file';
    throw dataError(input.label, `${describeCsvProblem(first, header, input.declared)}${more}`, field);
  }
}

function describeCsvProblem(
  p: { line: number; column_name: string | null; error_type: string; csv_line: string; error_message: string },
  header: readonly string[],
  declared: DeclaredSchema | undefined,
): string {
  const at = `at line ${formatCount(p.line)}`;
  switch (p.error_type) {
    case 'CAST': {
      const type = declared?.columns.find((c) => c.name === p.column_name)?.type ?? 'its type';
      const found = /Could not convert string "(.*)" to/s.exec(p.error_message)?.[1];
      return `column "${p.column_name}" expected ${type}, found ${found === undefined ? 'a value it cannot hold' : JSON.stringify(found)} ${at}`;
    }
    case 'MISSING COLUMNS':
    case 'TOO MANY COLUMNS': {
      const found = /Found: (\d+)/.exec(p.error_message)?.[1];
      return `line ${formatCount(p.line)} has ${found ?? 'a different number of'} field${found === '1' ? '' : 's'}, expected ${header.length} (${header.join(', ')})`;
    }
    case 'INVALID ENCODING':
    case 'INVALID UNICODE':
      return `invalid UTF-8 ${at}${p.column_name ? `, column "${p.column_name}"` : ''}: the file must be UTF-8 encoded`;
    case 'UNQUOTED VALUE':
      return `a quote inside an unquoted value ${at}${p.column_name ? `, column "${p.column_name}"` : ''}`;
    case 'LINE SIZE OVER MAXIMUM':
      return `line too long ${at} (is the file CSV?)`;
    default:
      return `${p.error_message.split('\n')[0]} ${at}${p.column_name ? `, column "${p.column_name}"` : ''}`;
  }
}

/** Reads and splits the header line (first record) of a CSV file. */
async function readCsvHeader(path: string, label: string): Promise<string[]> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    let bytes = buffer.subarray(0, bytesRead);
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    let inQuotes = false;
    let end = bytes.length;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === 0x22) inQuotes = !inQuotes;
      else if (!inQuotes && (b === 0x0a || b === 0x0d)) {
        end = i;
        break;
      }
    }
    if (end === bytes.length && bytesRead === buffer.length) throw dataError(label, 'the header line is longer than 1 MiB (is the file CSV?)');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
    } catch {
      throw dataError(label, 'invalid UTF-8 at line 1 (the header): the file must be UTF-8 encoded');
    }
    let header: readonly (string | null)[];
    try {
      header = parseCsv(text)[0]?.fields ?? [''];
    } catch (error) {
      throw dataError(label, `${(error as Error).message.replace(/^file: /, '')} (the header)`);
    }
    return header.map((name) => name ?? '');
  } finally {
    await handle.close();
  }
}

/**
 * Scans a CSV file for the first structural problem — invalid UTF-8, an unterminated quoted value,
 * text after a closing quote, a record with the wrong number of fields — and describes it with its
 * line; undefined when there is none.
 */
export async function locateCsvProblem(path: string, expectedFields: number): Promise<string | undefined> {
  let line = 1;
  let recordLine = 1;
  let fields = 1;
  let inQuotes = false;
  let quoteLine = 0;
  let fieldStart = true;
  let afterQuote = false;
  let lineBytes: Buffer[] = [];
  const endLine = (chunk: Buffer, from: number, to: number): string | undefined => {
    lineBytes.push(chunk.subarray(from, to));
    const bytes = lineBytes.length === 1 ? lineBytes[0] : Buffer.concat(lineBytes);
    lineBytes = [];
    return isUtf8(bytes) ? undefined : `invalid UTF-8 at line ${formatCount(line)}: the file must be UTF-8 encoded`;
  };
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let lineFrom = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (inQuotes) {
        if (b === 0x22) {
          inQuotes = false;
          afterQuote = true;
        } else if (b === 0x0a) {
          const bad = endLine(chunk, lineFrom, i);
          if (bad) return bad;
          lineFrom = i + 1;
          line++;
        }
        continue;
      }
      if (b === 0x22) {
        if (afterQuote) {
          // `""` inside a quoted value: an escaped quote, still quoted.
          inQuotes = true;
          afterQuote = false;
        } else if (fieldStart) {
          inQuotes = true;
          quoteLine = line;
        }
        // A quote inside an unquoted value is a literal character, as DuckDB reads it.
        fieldStart = false;
      } else if (b === 0x2c) {
        fields++;
        fieldStart = true;
        afterQuote = false;
      } else if (b === 0x0a) {
        const bad = endLine(chunk, lineFrom, i);
        if (bad) return bad;
        lineFrom = i + 1;
        if (fields !== expectedFields) return `line ${formatCount(recordLine)} has ${fields} field${fields === 1 ? '' : 's'}, expected ${expectedFields}`;
        line++;
        recordLine = line;
        fields = 1;
        fieldStart = true;
        afterQuote = false;
      } else if (b !== 0x0d) {
        if (afterQuote) return `text after a closing quote at line ${formatCount(line)}`;
        fieldStart = false;
      }
    }
    lineBytes.push(chunk.subarray(lineFrom));
  }
  if (inQuotes) return `unterminated quoted value starting at line ${formatCount(quoteLine)}`;
  const rest = Buffer.concat(lineBytes);
  if (rest.length > 0) {
    if (!isUtf8(rest)) return `invalid UTF-8 at line ${formatCount(line)}: the file must be UTF-8 encoded`;
    if (fields !== expectedFields) return `line ${formatCount(recordLine)} has ${fields} field${fields === 1 ? '' : 's'}, expected ${expectedFields}`;
  }
  return undefined;
}

/** Column names must be non-empty, unique ignoring case (SQL identifiers are case-insensitive), and not reserved. */
function checkColumnNames(names: readonly string[], label: string): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (name.trim() === '') throw dataError(label, `column ${i + 1} has an empty name`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(name)) throw dataError(label, `column ${i + 1} name ${JSON.stringify(name)} contains a control character`);
    if (name.length > 255) throw dataError(label, `column ${i + 1} name is longer than 255 characters`);
    if (name.toLowerCase() === ROW_NUMBER) throw dataError(label, `column name "${name}" is reserved`);
    const key = name.toLowerCase();
    const before = seen.get(key);
    if (before !== undefined) {
      throw dataError(label, `columns ${before + 1} and ${i + 1} are both named "${name}" (names must be unique, ignoring case)`);
    }
    seen.set(key, i);
  });
}

// ---- JSON Lines ----

async function stageJsonl(conn: DuckDbConnection, input: CanonicalizeInput, staging: string): Promise<void> {
  const path = quoteLiteral(input.path);
  try {
    // Infer types from every line once, then read with those types fixed — except that DuckDB types a
    // column of negative and positive integers HUGEINT, which Parquet would store as a double.
    const inferred = await conn.rows<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM read_json(${path}, format = 'newline_delimited', records = true, sample_size = -1)`,
    );
    const columns: Record<string, string> = {};
    for (const c of inferred) columns[c.column_name] = /^(HUGEINT|UBIGINT|UHUGEINT)$/.test(c.column_type) ? 'BIGINT' : c.column_type;
    const source = `read_json(${path}, format = 'newline_delimited', records = true, columns = ${structLiteral(columns)})`;
    await conn.copyToParquet(`SELECT * FROM ${source}`, staging, { compression: 'uncompressed' });
  } catch (error) {
    // DuckDB's JSON reader does not say reliably where the problem is; find it ourselves.
    const located = await locateJsonlProblem(input.path);
    if (located) throw dataError(input.label, located);
    throw readError(input.label, 'JSON Lines', error);
  }
}

/** Finds the first line of a JSON Lines file that is not valid UTF-8 or not a JSON object. */
export async function locateJsonlProblem(path: string): Promise<string | undefined> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 0;
  let carry: Buffer = Buffer.alloc(0);
  const check = (bytes: Buffer): string | undefined => {
    line++;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return `invalid UTF-8 at line ${formatCount(line)}: the file must be UTF-8 encoded`;
    }
    if (text.trim() === '') return undefined;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return `line ${formatCount(line)} is not a JSON object`;
    } catch (error) {
      return `malformed JSON at line ${formatCount(line)}: ${(error as Error).message}`;
    }
    return undefined;
  };
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let newline: number;
    while ((newline = data.indexOf(0x0a)) !== -1) {
      const problem = check(data.subarray(0, newline));
      if (problem) return problem;
      data = data.subarray(newline + 1);
    }
    carry = Buffer.from(data);
  }
  return carry.length > 0 ? check(carry) : undefined;
}

/**
 * The line (1-based) on which data record `record` (0-based, after the header) of a CSV file starts:
 * a record is one line unless a quoted value spans several. Quotes are read as the CSV reader reads
 * them (a quote opens a value only at its start; `""` inside one is an escaped quote).
 */
async function csvLineOfRecord(path: string, record: number): Promise<number> {
  let line = 1;
  let seen = -1;
  let inQuotes = false;
  let afterQuote = false;
  let fieldStart = true;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (const b of chunk) {
      if (b === 0x0a) line++;
      if (inQuotes) {
        if (b === 0x22) {
          inQuotes = false;
          afterQuote = true;
        }
        continue;
      }
      if (b === 0x22) {
        if (afterQuote || fieldStart) inQuotes = true;
        afterQuote = false;
        fieldStart = false;
      } else if (b === 0x2c) {
        fieldStart = true;
        afterQuote = false;
      } else if (b === 0x0a) {
        if (++seen === record) return line;
        fieldStart = true;
        afterQuote = false;
      } else if (b !== 0x0d) {
        fieldStart = false;
        afterQuote = false;
      }
    }
  }
  return line;
}

/** The physical line of the `record`-th (0-based) non-blank line of a JSON Lines file. */
async function jsonlLineOfRecord(path: string, record: number): Promise<number> {
  let line = 0;
  let seen = -1;
  let blank = true;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (const b of chunk) {
      if (b === 0x0a) {
        line++;
        if (!blank && ++seen === record) return line;
        blank = true;
      } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) blank = false;
    }
  }
  return line + 1;
}

// ---- Parquet ----

async function checkParquet(conn: DuckDbConnection, input: CanonicalizeInput): Promise<void> {
  try {
    const columns = await conn.rows<{ name: string }>(`SELECT name FROM parquet_schema(${quoteLiteral(input.path)}) WHERE num_children IS NULL OR num_children = 0`);
    if (columns.length === 0) throw dataError(input.label, 'the Parquet file has no columns');
  } catch (error) {
    if (error instanceof MloopError) throw error;
    throw readError(input.label, 'Parquet', error);
  }
}

// ---- shared second pass ----

/** Maps a DuckDB type name to what it becomes; undefined for types datasets do not hold. */
export function sourceKind(duckType: string): SourceKind | undefined {
  const t = duckType.toUpperCase();
  if (t === 'BOOLEAN') return 'boolean';
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t)) return 'integer';
  if (t === 'FLOAT' || t === 'DOUBLE' || t.startsWith('DECIMAL')) return 'float';
  if (t === 'VARCHAR' || t === 'UUID' || t.startsWith('ENUM')) return 'string';
  if (t === 'JSON') return 'json';
  if (t === 'DATE' || t.startsWith('TIMESTAMP')) return 'timestamp';
  return undefined;
}

/** SQL reading column `name` of source kind `kind` as a plain value (JSON scalars unwrapped). */
function plain(name: string, kind: SourceKind): string {
  return kind === 'json' ? `json_extract_string(${quoteIdent(name)}, '$')` : quoteIdent(name);
}

/** SQL converting a source column to its logical type. */
function convert(column: SourceColumn, target: ColumnType): string {
  const value = plain(column.name, column.kind);
  if (target === 'float') {
    const asDouble = `CAST(${value} AS DOUBLE)`;
    return `CASE WHEN isnan(${asDouble}) THEN NULL ELSE ${asDouble} END`;
  }
  if (target === 'string' && column.kind === 'timestamp') return `strftime(${value}, '%Y-%m-%dT%H:%M:%S.%fZ')`;
  return `CAST(${value} AS ${STORAGE_TYPES[target]})`;
}

/** SQL true for rows where converting the column would fail (or lose the fraction of a float). */
function conversionFails(column: SourceColumn, target: ColumnType): string | undefined {
  if (target === 'string') return undefined;
  // Integers wider than BIGINT may not fit.
  if (column.kind === target && !(target === 'integer' && /^(HUGEINT|UBIGINT|UHUGEINT)$/i.test(column.duckType))) return undefined;
  const value = plain(column.name, column.kind);
  const failed = `(${value} IS NOT NULL AND TRY_CAST(${value} AS ${STORAGE_TYPES[target]}) IS NULL)`;
  if (target === 'integer' && column.kind !== 'integer') {
    return `(${failed} OR (TRY_CAST(${value} AS DOUBLE) IS NOT NULL AND TRY_CAST(${value} AS DOUBLE) <> trunc(TRY_CAST(${value} AS DOUBLE))))`;
  }
  return failed;
}

async function writeCanonical(conn: DuckDbConnection, input: CanonicalizeInput, stagedPath: string, output: string): Promise<CanonicalFile> {
  const { label } = input;
  const from = `read_parquet(${quoteLiteral(stagedPath)}, file_row_number = true)`;
  let described: { column_name: string; column_type: string }[];
  try {
    described = await conn.rows(`DESCRIBE SELECT * EXCLUDE (${ROW_NUMBER}) FROM ${from}`);
  } catch (error) {
    if (/file_row_number/.test(String((error as Error).message))) throw dataError(label, `column name "${ROW_NUMBER}" is reserved`);
    throw readError(label, 'Parquet', error);
  }
  checkColumnNames(described.map((d) => d.column_name), label);
  if (described.length === 0) throw dataError(label, 'the file has no columns');
  const columns: SourceColumn[] = described.map((d) => {
    const kind = sourceKind(d.column_type);
    if (!kind) {
      throw dataError(
        label,
        `column "${d.column_name}" has type ${d.column_type}, which datasets do not hold (integer, float, boolean, string, timestamp)`,
        d.column_name,
      );
    }
    return { name: d.column_name, duckType: d.column_type, kind };
  });

  const declared = new Map((input.declared?.columns ?? []).map((c) => [c.name, c]));
  const present = new Set(columns.map((c) => c.name));
  const missing = [...declared.keys()].filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw dataError(label, `declared column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not found in the file (it has ${columns.map((c) => c.name).join(', ')})`);
  }
  if (input.declared?.strict) {
    const extra = columns.filter((c) => !declared.has(c.name)).map((c) => `"${c.name}"`);
    if (extra.length > 0) throw dataError(label, `the schema is strict and does not declare column${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  }

  // Settle each column's type: declared, else its source type, with strings that all read as
  // timestamps becoming timestamps.
  const candidates = columns.filter((c) => !declared.get(c.name)?.type && (c.kind === 'string' || c.kind === 'json'));
  const asTimestamp = new Set<string>();
  if (candidates.length > 0) {
    const row = await conn.first<Record<string, number>>(
      `SELECT ${candidates
        .map((c, i) => {
          const v = plain(c.name, c.kind);
          return `count(${v}) AS n${i}, count(TRY_CAST(${v} AS TIMESTAMPTZ)) AS t${i}`;
        })
        .join(', ')} FROM ${from}`,
    );
    candidates.forEach((c, i) => {
      if (row && row[`n${i}`] > 0 && row[`n${i}`] === row[`t${i}`]) asTimestamp.add(c.name);
    });
  }
  const targets = columns.map((c): ColumnType => {
    const d = declared.get(c.name)?.type;
    if (d) return d;
    if (asTimestamp.has(c.name)) return 'timestamp';
    return c.kind === 'json' ? 'string' : c.kind;
  });

  // Declared types the data cannot take: name the first offending row.
  for (let i = 0; i < columns.length; i++) {
    const fails = conversionFails(columns[i], targets[i]);
    if (!fails) continue;
    const bad = await conn.first<{ row: number; value: string; n: number }>(
      `SELECT ${ROW_NUMBER} AS row, CAST(${plain(columns[i].name, columns[i].kind)} AS VARCHAR) AS value, count(*) OVER () AS n
       FROM ${from} WHERE ${fails} ORDER BY ${ROW_NUMBER} LIMIT 1`,
    );
    if (bad) {
      const where = await rowLocation(input, bad.row);
      const more = bad.n > 1 ? ` (${formatCount(bad.n - 1)} more row${bad.n > 2 ? 's' : ''} like it)` : '';
      throw dataError(label, `column "${columns[i].name}" expected ${targets[i]}, found ${JSON.stringify(bad.value)} at ${where}${more}`, columns[i].name);
    }
  }

  const counts = await conn.first<Record<string, number>>(
    `SELECT count(*) AS rows, ${columns.map((c, i) => `count(${convert(c, targets[i])}) AS c${i}`).join(', ')} FROM ${from}`,
  );
  const rowCount = Number(counts?.rows ?? 0);
  const schemaColumns: ColumnSchema[] = [];
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i].name;
    const nulls = rowCount - Number(counts?.[`c${i}`] ?? 0);
    const d = declared.get(name);
    if (d?.nullable === false && nulls > 0) {
      const first = await conn.first<{ row: number }>(
        `SELECT ${ROW_NUMBER} AS row FROM ${from} WHERE ${convert(columns[i], targets[i])} IS NULL ORDER BY ${ROW_NUMBER} LIMIT 1`,
      );
      const where = await rowLocation(input, first?.row ?? 0);
      throw dataError(label, `column "${name}" is declared not nullable, but ${formatCount(nulls)} value${nulls > 1 ? 's are' : ' is'} missing, the first at ${where}`, name);
    }
    schemaColumns.push({
      name,
      type: targets[i],
      nullable: d?.nullable ?? nulls > 0,
      tags: [...new Set(d?.tags ?? [])].sort(),
      ...(d?.description ? { description: d.description } : {}),
    });
  }
  return writeCanonicalParquet(
    conn,
    from,
    ROW_NUMBER,
    columns.map((c, i) => ({ sql: convert(c, targets[i]), schema: schemaColumns[i] })),
    output,
  );
}

/** One column of a canonical write: the SQL of its values in their logical type, and its schema. */
interface CanonicalColumn {
  readonly sql: string;
  readonly schema: ColumnSchema;
}

/**
 * The canonical writer — the one place canonical Parquet is written, whatever the rows come from
 * ({@link canonicalize}, {@link writeCanonicalQuery}): the columns of `from` in the given order and
 * schema, rows ordered by `order` (which makes DuckDB emit row groups of exactly
 * {@link ROW_GROUP_SIZE} rows however the input was chunked), zstd, the schema in the footer. Hashes
 * the file once, as it is.
 */
async function writeCanonicalParquet(conn: DuckDbConnection, from: string, order: string, columns: readonly CanonicalColumn[], output: string): Promise<CanonicalFile> {
  const schema: DatasetSchema = { columns: columns.map((c) => c.schema) };
  const rowCount = await conn.copyToParquet(
    `SELECT ${columns.map((c) => `${c.sql} AS ${quoteIdent(c.schema.name)}`).join(', ')} FROM ${from} ORDER BY ${quoteIdent(order)}`,
    output,
    { rowGroupSize: ROW_GROUP_SIZE, compression: 'zstd', kvMetadata: { [SCHEMA_KEY]: schemaJson(schema) } },
  );
  const { sha256, size } = await hashFile(output);
  return { path: output, sha256, size, rowCount, schema };
}

/** What {@link writeCanonicalQuery} writes. */
export interface CanonicalQueryInput {
  /** A DuckDB query, run on the caller's connection (so it may read that connection's temporary tables). */
  readonly sql: string;
  /** A column of the query that orders its rows; it is not written. */
  readonly order: string;
  /**
   * Every other column, each with its nullability (a type, when given, must be the query's own; tags
   * and descriptions are kept). Columns declared not nullable are checked against the written file.
   */
  readonly declared: DeclaredSchema;
  /** How errors name the data: `dataset "training"`. */
  readonly label: string;
  /** The file to write. */
  readonly output: string;
}

/**
 * Writes the rows of a query as canonical Parquet in one pass, for data whose schema is known before
 * it is read (derived versions such as point-in-time retrievals, whose rows exist only as a query):
 * the same conversions and the same writer as {@link canonicalize}, so the bytes are those
 * `canonicalize` makes of the same rows with the written schema declared — without writing, reading
 * and scanning them first. Leaves no file behind on failure.
 */
export async function writeCanonicalQuery(conn: DuckDbConnection, input: CanonicalQueryInput): Promise<CanonicalFile> {
  const { label, output } = input;
  const from = `(${input.sql})`;
  const described = await conn.rows<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * EXCLUDE (${quoteIdent(input.order)}) FROM ${from}`);
  checkColumnNames(described.map((d) => d.column_name), label);
  if (described.length === 0) throw dataError(label, 'the query has no columns');
  const declared = new Map((input.declared.columns ?? []).map((c) => [c.name, c]));
  const columns = described.map((d): CanonicalColumn => {
    const kind = sourceKind(d.column_type);
    const column = declared.get(d.column_name);
    if (!kind || kind === 'json') throw dataError(label, `column "${d.column_name}" has type ${d.column_type}, which datasets do not hold`, d.column_name);
    if (column?.nullable === undefined) throw dataError(label, `column "${d.column_name}" needs a declared nullability`, 'schema');
    const type = column.type ?? kind;
    const source: SourceColumn = { name: d.column_name, duckType: d.column_type, kind };
    if (conversionFails(source, type)) throw dataError(label, `column "${d.column_name}" is ${d.column_type}, declared ${type}: convert it in the query`, 'schema');
    return {
      sql: convert(source, type),
      schema: {
        name: d.column_name,
        type,
        nullable: column.nullable,
        tags: [...new Set(column.tags ?? [])].sort(),
        ...(column.description ? { description: column.description } : {}),
      },
    };
  });
  const unknown = [...declared.keys()].filter((name) => !described.some((d) => d.column_name === name));
  if (unknown.length > 0) throw dataError(label, `declared column${unknown.length > 1 ? 's' : ''} ${unknown.map((m) => `"${m}"`).join(', ')} not in the query`, 'schema');
  try {
    const file = await writeCanonicalParquet(conn, from, input.order, columns, output);
    await checkNotNull(conn, file, label);
    return file;
  } catch (error) {
    await rm(output, { force: true });
    throw error;
  }
}

/** Checks, from the file's column statistics, that no column declared not nullable holds a null. */
async function checkNotNull(conn: DuckDbConnection, file: CanonicalFile, label: string): Promise<void> {
  const required = file.schema.columns.filter((c) => !c.nullable);
  if (required.length === 0 || file.rowCount === 0) return;
  const stats = await conn.rows<{ name: string; nulls: number | null }>(
    `SELECT path_in_schema AS name, sum(stats_null_count) AS nulls FROM parquet_metadata(${quoteLiteral(file.path)}) GROUP BY 1`,
  );
  for (const column of required) {
    const nulls = stats.find((s) => s.name === column.name)?.nulls;
    if (nulls === null || nulls === undefined) throw new MloopError('INTERNAL_ERROR', `${label}: the written file has no null count for column "${column.name}"`);
    if (Number(nulls) > 0) throw dataError(label, `column "${column.name}" is declared not nullable, but ${formatCount(Number(nulls))} value${Number(nulls) > 1 ? 's are' : ' is'} missing`, column.name);
  }
}

/** The footer JSON of a schema: fixed key order, so equal schemas give equal bytes. */
export function schemaJson(schema: DatasetSchema): string {
  return JSON.stringify({
    format: CANONICAL_FORMAT,
    columns: schema.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      tags: c.tags,
      ...(c.description ? { description: c.description } : {}),
    })),
  });
}

/** Where row `row` (0-based) of the input is, in the words of its format. */
async function rowLocation(input: CanonicalizeInput, row: number): Promise<string> {
  if (input.format === 'jsonl') return `line ${formatCount(await jsonlLineOfRecord(input.path, row))}`;
  if (input.format === 'csv') return `line ${formatCount(await csvLineOfRecord(input.path, row))}`;
  return `row ${formatCount(row + 1)}`;
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  // 1 MiB reads: hashing then runs near the digest's own speed instead of paying per 64 KiB chunk.
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** DuckDB error classes caused by the input file rather than by mloop or the machine. */
const INPUT_ERRORS = /^(Invalid Input Error|Conversion Error|Invalid Error|Out of Range Error|Not implemented Error|Binder Error|Parser Error|Serialization Error)/;

/** Turns a DuckDB error while reading the user's file into a 400 naming the format; others pass. */
function readError(label: string, format: string, error: unknown): unknown {
  if (error instanceof MloopError) return error;
  const message = String((error as Error)?.message ?? error);
  if (!INPUT_ERRORS.test(message) && !/IO Error: (No magic bytes|Invalid Parquet|File too small)/i.test(message)) return error;
  const firstLine = message.split('\n')[0].replace(/^[A-Za-z ]+Error: /, '');
  const line = /Line: (\d+)|in line (\d+)/.exec(message)?.slice(1).find(Boolean);
  return new MloopError(
    'INVALID_PARAMETER_VALUE',
    `${label}: cannot read the file as ${format}${line ? ` at line ${formatCount(Number(line))}` : ''}: ${firstLine.replace(/"\/[^"]*"|'\/[^']*'/g, 'the file')}`,
    { fields: [{ field: 'file', reason: firstLine }], cause: error },
  );
}
