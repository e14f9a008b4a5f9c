/**
 * Scoring tables with an ONNX model in onnxruntime-node: builds the input tensors a signature asks
 * for from a {@link Table}, runs the session in batches, and reads the outputs back as the metrics
 * read them (class probabilities or values). Also measures single-row latency.
 */
import * as ort from 'onnxruntime-node';
import { invalidParam, MloopError } from '../core/errors.ts';
import { exposeZipMapInputs } from './external-onnx.ts';
import type { Table } from './types.ts';

/** An input or output of a model signature, as mloop stores it for built-in and external models. */
export interface SignatureTensor {
  readonly name: string;
  /** ONNX element type name: `float`, `double`, `int64`, `int32`, `string`, `bool`, … */
  readonly type: string;
  /** Dimensions: numbers, symbolic names, or -1/null for unknown. */
  readonly shape: readonly (number | string | null)[];
  /** Dataset columns that fill a 2-D input [N, d] in this order (models that read one feature matrix, as skl2onnx exports them). */
  readonly columns?: readonly string[];
}

/** The dataset columns an input reads: its `columns`, or the column of its own name. */
export function inputColumns(input: SignatureTensor): readonly string[] {
  return input.columns ?? [input.name];
}

/** How a model's outputs map to predictions. */
export interface ScoringSignature {
  readonly inputs: readonly SignatureTensor[];
  readonly outputs: readonly SignatureTensor[];
  readonly task: 'binary' | 'multiclass' | 'regression';
  /** Classification: the output holding class probabilities [N, k] (or a ZipMap's sequence of maps, see `zipMapInput`). */
  readonly probabilitiesOutput?: string;
  /**
   * Classification through a ZipMap output (skl2onnx's default `output_probability`, which
   * onnxruntime-node cannot return): the float tensor [N, k] the ZipMap reads, columns in the order of
   * the signature's classes. {@link openSession} makes it a graph output; scoring reads it instead.
   */
  readonly zipMapInput?: string;
  /** Regression: the output holding values [N] or [N, 1]. */
  readonly valueOutput?: string;
}

/** Predictions of a model on a table. */
export interface Scores {
  /** Regression values, one per row. */
  readonly values?: Float64Array;
  /** Class probabilities, row-major rows × k. */
  readonly probabilities?: Float64Array;
  readonly nClasses?: number;
}

const BATCH = 4096;

/**
 * Opens an onnxruntime session on model bytes; a file onnxruntime cannot load is INVALID_PARAMETER_VALUE
 * on `field`. The tensors that ZipMap nodes read become outputs too (see `exposeZipMapInputs`), so
 * classifiers exported with a ZipMap can be scored.
 */
export async function openSession(bytes: Uint8Array, field = 'model'): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(exposeZipMapInputs(bytes), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  } catch (error) {
    throw invalidParam(field, `onnxruntime cannot load the model: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** The input tensors of rows [start, end) of `table` for `signature`'s inputs (each [N, 1] or [N]). */
export function feedsOf(table: Table, inputs: readonly SignatureTensor[], start = 0, end = table.rows): Record<string, ort.Tensor> {
  const n = end - start;
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) {
    if (input.columns) {
      feeds[input.name] = matrixFeed(table, input, start, end);
      continue;
    }
    const column = table.columns.find((c) => c.name === input.name);
    if (!column) throw invalidParam('data', `the model needs input column "${input.name}", which the data lacks`);
    const dims = input.shape.length === 1 ? [n] : [n, 1];
    if (input.shape.length > 2 || (input.shape.length === 2 && typeof input.shape[1] === 'number' && input.shape[1] !== 1)) {
      throw invalidParam('model', `input "${input.name}" has shape [${input.shape.join(', ')}]; only one column per input ([N, 1] or [N]) can be fed from a dataset`);
    }
    if (input.type === 'string') {
      const values = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const v = column.kind === 'categorical' ? column.values[start + i] : column.values[start + i];
        values[i] = v === null || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v);
      }
      feeds[input.name] = new ort.Tensor('string', values, dims);
      continue;
    }
    if (column.kind !== 'numeric') throw invalidParam('data', `column "${input.name}" is text but the model reads ${input.type}`);
    const src = column.values.subarray(start, end);
    switch (input.type) {
      case 'float':
        feeds[input.name] = new ort.Tensor('float32', Float32Array.from(src), dims);
        break;
      case 'double':
        feeds[input.name] = new ort.Tensor('float64', Float64Array.from(src), dims);
        break;
      case 'int64':
        feeds[input.name] = new ort.Tensor('int64', BigInt64Array.from(src, (v) => BigInt(Number.isFinite(v) ? Math.trunc(v) : 0)), dims);
        break;
      case 'int32':
        feeds[input.name] = new ort.Tensor('int32', Int32Array.from(src), dims);
        break;
      case 'bool':
        feeds[input.name] = new ort.Tensor('bool', Uint8Array.from(src, (v) => (v ? 1 : 0)), dims);
        break;
      default:
        throw invalidParam('model', `input "${input.name}" has type ${input.type}, which cannot be fed from a dataset`);
    }
  }
  return feeds;
}

/** A [N, d] float or double tensor from the numeric columns an input lists. */
function matrixFeed(table: Table, input: SignatureTensor, start: number, end: number): ort.Tensor {
  const names = input.columns!;
  const n = end - start;
  const d = names.length;
  const out = input.type === 'double' ? new Float64Array(n * d) : new Float32Array(n * d);
  names.forEach((name, j) => {
    const column = table.columns.find((c) => c.name === name);
    if (!column) throw invalidParam('data', `the model needs column "${name}" (input "${input.name}"), which the data lacks`);
    if (column.kind !== 'numeric') throw invalidParam('data', `column "${name}" is text but input "${input.name}" reads numbers`);
    for (let i = 0; i < n; i++) out[i * d + j] = column.values[start + i];
  });
  if (input.type !== 'float' && input.type !== 'double') throw invalidParam('model', `input "${input.name}" has type ${input.type}; a feature matrix must be float or double`);
  return new ort.Tensor(input.type === 'double' ? 'float64' : 'float32', out, [n, d]);
}

function toFloat64(data: unknown, output: string): Float64Array {
  if (data instanceof Float64Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, (v) => Number(v));
  if (data instanceof Float32Array || data instanceof Int8Array || data instanceof Int16Array || data instanceof Int32Array || data instanceof Uint8Array || data instanceof Uint16Array || data instanceof Uint32Array) {
    return Float64Array.from(data);
  }
  throw new MloopError('INVALID_PARAMETER_VALUE', `model output "${output}" is not numeric`);
}

/** Scores every row of `table`. */
export async function scoreTable(session: ort.InferenceSession, table: Table, signature: ScoringSignature): Promise<Scores> {
  const named = signature.task === 'regression' ? signature.valueOutput : signature.probabilitiesOutput;
  if (!named) throw invalidParam('model', `the signature names no ${signature.task === 'regression' ? 'value' : 'probabilities'} output`);
  const wanted = signature.task !== 'regression' && signature.zipMapInput ? signature.zipMapInput : named;
  const parts: Float64Array[] = [];
  let width = 0;
  for (let start = 0; start < table.rows; start += BATCH) {
    const end = Math.min(table.rows, start + BATCH);
    const out = await session.run(feedsOf(table, signature.inputs, start, end), [wanted]);
    const tensor = out[wanted];
    const values = toFloat64(tensor.data, named);
    width = (end - start) === 0 ? 0 : values.length / (end - start);
    parts.push(values);
  }
  const all = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  if (signature.task === 'regression') {
    if (width > 1) throw invalidParam('model', `output ${wanted} has ${width} values per row; a regression model gives one`);
    return { values: all };
  }
  return { probabilities: all, nClasses: width };
}

/**
 * Single-row latency of `session`: runs each of the first rows of `table` (cycling) `runs` times after
 * `warmup` runs; returns percentiles in milliseconds. Every tensor output is fetched (onnxruntime-node
 * cannot return sequences or maps, so a ZipMap's output is left out and its input fetched instead).
 */
export async function measureLatency(session: ort.InferenceSession, table: Table, inputs: readonly SignatureTensor[], options: { runs?: number; warmup?: number } = {}): Promise<{ p50: number; p99: number; runs: number }> {
  const runs = options.runs ?? 200;
  const warmup = options.warmup ?? 20;
  const rows = Math.max(1, Math.min(table.rows, 64));
  const feeds = Array.from({ length: rows }, (_, r) => feedsOf(table, inputs, r, r + 1));
  const fetches = session.outputMetadata.filter((o) => o.isTensor).map((o) => o.name);
  for (let i = 0; i < warmup; i++) await session.run(feeds[i % rows], fetches);
  const times = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await session.run(feeds[i % rows], fetches);
    times[i] = Number(process.hrtime.bigint() - t) / 1e6;
  }
  times.sort();
  const at = (q: number) => times[Math.min(runs - 1, Math.ceil(q * runs) - 1)];
  return { p50: at(0.5), p99: at(0.99), runs };
}
