/**
 * A small builder of ONNX models over `onnx-proto`: declare inputs, outputs, initializers and nodes,
 * then serialize. Every exporter of mloop's trainers builds its graph with it.
 */
import onnxProto, { type onnx as O } from 'onnx-proto';

const { onnx } = onnxProto;

/** Tensor element types mloop uses. */
export type ElemType = 'float' | 'double' | 'int64' | 'string' | 'bool';

const ELEM: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  double: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  string: onnx.TensorProto.DataType.STRING,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A dimension: a fixed size, or a symbolic name such as `N` for the batch. */
export type Dim = number | string;

/** A tensor constant. */
export type TensorValue =
  | { type: 'float'; dims: number[]; values: ArrayLike<number> }
  | { type: 'double'; dims: number[]; values: ArrayLike<number> }
  | { type: 'int64'; dims: number[]; values: ArrayLike<number | bigint> }
  | { type: 'string'; dims: number[]; values: readonly string[] };

/** An attribute value; arrays of numbers are `floats` unless wrapped with {@link ints}. */
export type AttributeValue =
  | number
  | string
  | readonly string[]
  | readonly number[]
  | Float32Array
  | Float64Array
  | { ints: ArrayLike<number> }
  | { int: number }
  | { tensor: TensorValue };

/** Marks an attribute as a list of integers. */
export function ints(values: ArrayLike<number>): { ints: ArrayLike<number> } {
  return { ints: values };
}

/** Marks an attribute as a single integer (plain numbers are floats unless integral and `int` is used). */
export function int(value: number): { int: number } {
  return { int: value };
}

/** An opset import. */
export interface Opset {
  readonly domain: string;
  readonly version: number;
}

/** Default opsets: ONNX 17 and ai.onnx.ml 3 (both run on onnxruntime-node and pass onnx.checker). */
export const DEFAULT_OPSETS: readonly Opset[] = [
  { domain: '', version: 17 },
  { domain: 'ai.onnx.ml', version: 3 },
];

/** Builds one ONNX graph. */
export class OnnxGraphBuilder {
  readonly #inputs: O.IValueInfoProto[] = [];
  readonly #outputs: O.IValueInfoProto[] = [];
  readonly #initializers: O.ITensorProto[] = [];
  readonly #nodes: O.INodeProto[] = [];
  #counter = 0;

  constructor(readonly name: string) {}

  /** Declares a graph input. */
  input(name: string, type: ElemType, shape: readonly Dim[]): this {
    this.#inputs.push(valueInfo(name, type, shape));
    return this;
  }

  /** Declares a graph output. */
  output(name: string, type: ElemType, shape: readonly Dim[]): this {
    this.#outputs.push(valueInfo(name, type, shape));
    return this;
  }

  /** Adds a constant tensor and returns its name. */
  constant(name: string, value: TensorValue): string {
    this.#initializers.push(tensor(name, value));
    return name;
  }

  /** A fresh intermediate name with the given stem. */
  fresh(stem: string): string {
    return `${stem}_${this.#counter++}`;
  }

  /**
   * Adds a node. `outputs` may be a count, in which case fresh names are made. Returns the output names.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attributes: Record<string, AttributeValue> = {},
    domain = '',
  ): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : [...outputs];
    this.#nodes.push({
      opType,
      domain,
      name: this.fresh(`n_${opType}`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return outs;
  }

  /** Serializes the model. */
  build(options: { opsets?: readonly Opset[]; producer?: string; docString?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: options.producer ?? 'mloop',
      producerVersion: '0.1.0',
      docString: options.docString ?? '',
      opsetImport: (options.opsets ?? DEFAULT_OPSETS).map((o) => ({ domain: o.domain, version: o.version })),
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        input: this.#inputs,
        output: this.#outputs,
        initializer: this.#initializers,
        node: this.#nodes,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, shape: readonly Dim[]): O.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensor(name: string, value: TensorValue): O.ITensorProto {
  const base = { name, dims: value.dims, dataType: ELEM[value.type] };
  switch (value.type) {
    case 'float':
      return { ...base, floatData: Array.from(value.values) };
    case 'double':
      return { ...base, doubleData: Array.from(value.values) };
    case 'int64':
      return { ...base, int64Data: Array.from(value.values, (v) => Number(v)) };
    case 'string':
      return { ...base, stringData: value.values.map((s) => new TextEncoder().encode(s)) };
  }
}

function attribute(name: string, value: AttributeValue): O.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: A.FLOAT, f: value };
  if (value instanceof Float32Array || value instanceof Float64Array) return { name, type: A.FLOATS, floats: Array.from(value) };
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: A.STRINGS, strings: (value as string[]).map((s) => new TextEncoder().encode(s)) };
    }
    return { name, type: A.FLOATS, floats: value as number[] };
  }
  const v = value as Exclude<AttributeValue, number | string | readonly unknown[] | Float32Array | Float64Array>;
  if ('ints' in v) return { name, type: A.INTS, ints: Array.from(v.ints) };
  if ('int' in v) return { name, type: A.INT, i: v.int };
  return { name, type: A.TENSOR, t: tensor(name, v.tensor) };
}
