/**
 * ONNX files trained elsewhere (scikit-learn through skl2onnx, PyTorch through torch.onnx, …): reading
 * their signature and refusing the unsafe ones before anything loads them.
 *
 * External data. An ONNX tensor may keep its bytes in another file, named by the `location` entry of
 * its `external_data`. A location that leaves the model's folder — an absolute path, a `..` segment, a
 * drive letter or UNC path, a URL — lets a model read any file the server can read when a runtime loads
 * it (CVE-2022-25882 in onnx, and its cousins in runtimes). Such files are refused with 400 naming the
 * tensor and the location. An upload is one file, so tensors with external data inside the folder
 * cannot be resolved either: those files are refused too, with a message saying how to save the model
 * self-contained (`onnx.save_model(model, path, save_as_external_data=False)`, the default below 2 GiB).
 * Every tensor is checked: initializers, sparse initializers, tensors in node attributes (`Constant`),
 * and subgraphs (`If`, `Loop`, `Scan`) and functions at any depth.
 */
import onnxProto, { type onnx as O } from 'onnx-proto';
import { invalidParam } from '../core/errors.ts';
import type { StoredSignature } from './model-files.ts';
import type { SignatureTensor } from './scoring.ts';
import type { Task } from './types.ts';

const { onnx } = onnxProto;

const ELEM_NAMES: Record<number, string> = {
  1: 'float',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'double',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

/** What the file says about itself. */
export interface OnnxFacts {
  readonly inputs: SignatureTensor[];
  readonly outputs: SignatureTensor[];
  readonly producer: { name: string; version: string; irVersion: number; opsets: { domain: string; version: number }[] };
  readonly metadata: Record<string, string>;
  /** The graph outputs written by a ZipMap node (skl2onnx's default classifier export); none when absent. */
  readonly zipMaps?: readonly ZipMapOutput[];
}

/**
 * A graph output written by an `ai.onnx.ml` ZipMap node: a sequence of maps class label → probability
 * (`seq(map(int64|string, float))`), as skl2onnx exports `output_probability` unless `zipmap=False`.
 */
export interface ZipMapOutput {
  /** The graph output (`output_probability`). */
  readonly output: string;
  /** The float tensor [N, k] the ZipMap reads; its columns are the classes in the order of `classes`. */
  readonly input: string;
  /** The class labels of the node (`classlabels_int64s` or `classlabels_strings`), as text. */
  readonly classes: readonly string[];
}

/** Type names of the tensor outputs whose values scoring can read as numbers. */
const NUMERIC_TYPES = new Set(['float', 'double', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

/** One tensor that keeps its data outside the file. */
interface ExternalRef {
  readonly tensor: string;
  readonly location: string;
}

/**
 * Why a location leaves the model's folder, or undefined when it stays inside. The location is judged
 * as written and after percent-decoding, with both slash kinds as separators.
 */
export function unsafeLocation(location: string): string | undefined {
  const variants = [location];
  try {
    const decoded = decodeURIComponent(location);
    if (decoded !== location) variants.push(decoded);
  } catch {
    return 'it is not valid percent-encoding';
  }
  for (const v of variants) {
    if (v === '') return 'it is empty';
    if (/[\u0000-\u001f]/.test(v)) return 'it holds control characters';
    if (v.startsWith('/') || v.startsWith('\\')) return 'it is an absolute path';
    if (/^[A-Za-z]:/.test(v)) return 'it names a drive';
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v) || /^file:/i.test(v)) return 'it is a URL';
    if (v.startsWith('~')) return 'it names a home folder';
    if (v.split(/[\\/]/).some((segment) => segment === '..')) return 'it climbs out with ".."';
  }
  return undefined;
}

function collectGraph(graph: O.IGraphProto | null | undefined, where: string, out: ExternalRef[]): void {
  if (!graph) return;
  for (const t of graph.initializer ?? []) collectTensor(t, `${where}initializer ${t.name ?? ''}`, out);
  for (const s of graph.sparseInitializer ?? []) collectSparse(s, `${where}sparse initializer`, out);
  for (const node of graph.node ?? []) collectNode(node, where, out);
}

function collectNode(node: O.INodeProto, where: string, out: ExternalRef[]): void {
  const at = `${where}node ${node.name || node.opType || '?'}`;
  for (const a of node.attribute ?? []) {
    if (a.t) collectTensor(a.t, `${at} attribute ${a.name}`, out);
    for (const t of a.tensors ?? []) collectTensor(t, `${at} attribute ${a.name}`, out);
    if (a.sparseTensor) collectSparse(a.sparseTensor, `${at} attribute ${a.name}`, out);
    for (const s of a.sparseTensors ?? []) collectSparse(s, `${at} attribute ${a.name}`, out);
    if (a.g) collectGraph(a.g, `${at} subgraph ${a.name}: `, out);
    for (const g of a.graphs ?? []) collectGraph(g, `${at} subgraph ${a.name}: `, out);
  }
}

function collectSparse(s: O.ISparseTensorProto, where: string, out: ExternalRef[]): void {
  if (s.values) collectTensor(s.values, `${where} values`, out);
  if (s.indices) collectTensor(s.indices, `${where} indices`, out);
}

function collectTensor(t: O.ITensorProto, where: string, out: ExternalRef[]): void {
  const external = t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0;
  if (!external) return;
  const location = t.externalData?.find((e) => e.key === 'location')?.value ?? '';
  out.push({ tensor: where.trim(), location });
}

/** Decodes an ONNX file; a file that is not one is INVALID_PARAMETER_VALUE on `file`. */
export function decodeOnnx(bytes: Uint8Array): O.ModelProto {
  if (bytes.length === 0) throw invalidParam('file', 'is empty');
  let model: O.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw invalidParam('file', `is not an ONNX model: ${(error as Error).message}`);
  }
  if (!model.graph || (model.graph.node?.length ?? 0) === 0 && (model.graph.output?.length ?? 0) === 0) throw invalidParam('file', 'is not an ONNX model: it has no graph');
  return model;
}

/**
 * Refuses files whose tensors keep data outside the file: with 400 naming the tensor and the location,
 * saying whether it escapes the model's folder (CVE-2022-25882) or merely needs a file that was not uploaded.
 */
export function checkExternalData(model: O.ModelProto): void {
  const refs: ExternalRef[] = [];
  collectGraph(model.graph, '', refs);
  for (const f of model.functions ?? []) for (const node of f.node ?? []) collectNode(node, `function ${f.name}: `, refs);
  for (const ti of model.trainingInfo ?? []) {
    collectGraph(ti.initialization, 'training initialization: ', refs);
    collectGraph(ti.algorithm, 'training algorithm: ', refs);
  }
  for (const ref of refs) {
    const why = unsafeLocation(ref.location);
    if (why !== undefined) {
      throw invalidParam(
        'file',
        `tensor "${ref.tensor}" keeps its data at external location ${JSON.stringify(ref.location)}, outside the model's folder (${why}); such files can read arbitrary files when loaded (CVE-2022-25882) and are refused`,
      );
    }
  }
  if (refs.length > 0) {
    throw invalidParam(
      'file',
      `${refs.length} tensor(s) keep their data in external files (first: "${refs[0].tensor}" at ${JSON.stringify(refs[0].location)}); upload one self-contained ONNX file instead (onnx.save_model(model, path, save_as_external_data=False))`,
    );
  }
}

function typeName(type: O.ITypeProto | null | undefined): { type: string; shape: (number | string | null)[] } {
  if (!type) return { type: 'unknown', shape: [] };
  if (type.tensorType) {
    const dims = type.tensorType.shape?.dim ?? [];
    return {
      type: ELEM_NAMES[type.tensorType.elemType ?? 0] ?? `elem${type.tensorType.elemType}`,
      shape: dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam ? d.dimParam : null)),
    };
  }
  if (type.sequenceType) return { type: `seq(${typeName(type.sequenceType.elemType).type})`, shape: [] };
  if (type.mapType) return { type: `map(${ELEM_NAMES[type.mapType.keyType ?? 0] ?? '?'},${typeName(type.mapType.valueType).type})`, shape: [] };
  if (type.optionalType) return { type: `optional(${typeName(type.optionalType.elemType).type})`, shape: [] };
  if (type.sparseTensorType) return { type: `sparse(${ELEM_NAMES[type.sparseTensorType.elemType ?? 0] ?? '?'})`, shape: [] };
  return { type: 'unknown', shape: [] };
}

/** Inputs (initializers left out, as old exporters list them), outputs, producer and metadata of a decoded file. */
export function onnxFacts(model: O.ModelProto): OnnxFacts {
  const graph = model.graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const tensor = (v: O.IValueInfoProto): SignatureTensor => ({ name: v.name ?? '', ...typeName(v.type) });
  return {
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(tensor),
    outputs: (graph.output ?? []).map(tensor),
    producer: {
      name: model.producerName ?? '',
      version: model.producerVersion ?? '',
      irVersion: Number(model.irVersion ?? 0),
      opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: Number(o.version ?? 0) })),
    },
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
    zipMaps: zipMapOutputs(graph),
  };
}

function isZipMap(node: O.INodeProto): boolean {
  return node.opType === 'ZipMap' && node.domain === 'ai.onnx.ml';
}

/** The ZipMap nodes of the main graph that write a graph output. */
function zipMapOutputs(graph: O.IGraphProto): ZipMapOutput[] {
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const found: ZipMapOutput[] = [];
  for (const node of graph.node ?? []) {
    const output = node.output?.[0];
    const input = node.input?.[0];
    if (!isZipMap(node) || !output || !input || !outputs.has(output)) continue;
    const ints = node.attribute?.find((a) => a.name === 'classlabels_int64s')?.ints ?? [];
    const strings = node.attribute?.find((a) => a.name === 'classlabels_strings')?.strings ?? [];
    const decoder = new TextDecoder();
    const classes = ints.length > 0 ? ints.map((v) => String(v)) : strings.map((b) => decoder.decode(b));
    found.push({ output, input, classes });
  }
  return found;
}

/**
 * The model with the input tensor of each ZipMap that writes a graph output added as a graph output
 * too, so onnxruntime-node — which cannot return sequences or maps ("Non tensor type is temporarily not
 * supported") — can fetch the probabilities [N, k] the ZipMap reads. Files without a ZipMap (a byte
 * search for the operator name, then a decode to be sure) are returned as they are; so are files that
 * do not decode, for onnxruntime to refuse with its own message.
 */
export function exposeZipMapInputs(bytes: Uint8Array): Uint8Array {
  if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf('ZipMap') < 0) return bytes;
  let model: O.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    return bytes;
  }
  const graph = model.graph;
  if (!graph) return bytes;
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const inputs = new Set((graph.input ?? []).map((i) => i.name));
  let added = 0;
  for (const zipMap of zipMapOutputs(graph)) {
    if (outputs.has(zipMap.input) || inputs.has(zipMap.input)) continue;
    // ZipMap reads tensor(float) only.
    graph.output = [...(graph.output ?? []), onnx.ValueInfoProto.create({ name: zipMap.input, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } })];
    outputs.add(zipMap.input);
    added++;
  }
  return added === 0 ? bytes : onnx.ModelProto.encode(model).finish();
}

/** How the caller describes an external model's outputs (all optional: guessed from names and shapes). */
export interface ExternalModelOptions {
  readonly task?: Task | 'classification';
  readonly target?: string;
  readonly classes?: readonly string[];
  readonly probabilitiesOutput?: string;
  readonly valueOutput?: string;
  readonly labelOutput?: string;
  /**
   * Dataset columns, in order, that fill the model's single 2-D input [N, d] (models that read one
   * feature matrix, as skl2onnx and torch.onnx export them).
   */
  readonly columns?: readonly string[];
}

/**
 * The stored signature of an external model. The task and the output roles are taken from the options,
 * else guessed: a float output named like `probabilities` (skl2onnx with `zipmap=False`) or a ZipMap's
 * sequence of maps (skl2onnx's default `output_probability`, classes read from the node) means
 * classification; a single float output means regression; `label` names the label output. An output
 * named in the options must be of a type scoring can read, else 400 naming it.
 */
export function externalSignature(facts: OnnxFacts, options: ExternalModelOptions): StoredSignature {
  const outputNames = new Set(facts.outputs.map((o) => o.name));
  for (const [field, name] of [
    ['probabilities_output', options.probabilitiesOutput],
    ['value_output', options.valueOutput],
    ['label_output', options.labelOutput],
  ] as const) {
    if (name !== undefined && !outputNames.has(name)) throw invalidParam(field, `the model has no output "${name}" (outputs: ${[...outputNames].join(', ')})`);
  }
  const byName = new Map(facts.outputs.map((o) => [o.name, o]));
  const zipMaps = new Map((facts.zipMaps ?? []).map((z) => [z.output, z]));
  if (options.probabilitiesOutput !== undefined) {
    const o = byName.get(options.probabilitiesOutput)!;
    if (!zipMaps.has(o.name) && o.type !== 'float' && o.type !== 'double') {
      throw invalidParam('probabilities_output', `output "${o.name}" is ${o.type}; class probabilities must be a float or double tensor [N, k] or a ZipMap's seq(map(int64|string, float))`);
    }
  }
  if (options.valueOutput !== undefined) {
    const o = byName.get(options.valueOutput)!;
    if (!NUMERIC_TYPES.has(o.type)) throw invalidParam('value_output', `output "${o.name}" is ${o.type}; values must be a numeric tensor [N] or [N, 1]`);
  }
  if (options.labelOutput !== undefined) {
    const o = byName.get(options.labelOutput)!;
    if (!NUMERIC_TYPES.has(o.type) && o.type !== 'string') throw invalidParam('label_output', `output "${o.name}" is ${o.type}; labels must be a numeric or string tensor [N]`);
  }
  const floatOutputs = facts.outputs.filter((o) => o.type === 'float' || o.type === 'double');
  const probabilities = options.probabilitiesOutput ?? floatOutputs.find((o) => /prob/i.test(o.name))?.name ?? [...zipMaps.keys()][0];
  const zipMap = probabilities === undefined ? undefined : zipMaps.get(probabilities);
  const label = options.labelOutput ?? facts.outputs.find((o) => /label/i.test(o.name) && (NUMERIC_TYPES.has(o.type) || o.type === 'string'))?.name;
  let task: Task | undefined;
  let classes = options.classes ? [...options.classes] : undefined;
  const requested = options.task;
  if (requested === 'regression' || (requested === undefined && !probabilities && floatOutputs.length === 1)) {
    task = 'regression';
  } else if (requested !== undefined || probabilities) {
    if (!probabilities) throw invalidParam('probabilities_output', 'a classifier needs a float output of class probabilities [N, k]; name it');
    let k: number | undefined;
    if (zipMap) {
      k = zipMap.classes.length;
      if (k === 0) throw invalidParam('probabilities_output', `the ZipMap that writes output "${probabilities}" lists no class labels`);
      if (classes && classes.length !== k) throw invalidParam('classes', `${classes.length} classes were given; the ZipMap that writes output "${probabilities}" has ${k} (${zipMap.classes.join(', ')})`);
      classes ??= [...zipMap.classes];
    } else {
      const shape = byName.get(probabilities)!.shape;
      k = classes?.length ?? (typeof shape[1] === 'number' ? shape[1] : undefined);
      if (k === undefined) throw invalidParam('classes', `the number of classes cannot be read from output "${probabilities}" (shape [${shape.join(', ')}]); give classes`);
      classes ??= Array.from({ length: k }, (_, i) => String(i));
    }
    task = requested === 'binary' || requested === 'multiclass' ? requested : k === 2 ? 'binary' : 'multiclass';
    if (task === 'binary' && k !== 2) throw invalidParam('task', `binary, but output "${probabilities}" has ${k} classes`);
  }
  const valueOutput = task === 'regression' ? (options.valueOutput ?? floatOutputs[0]?.name) : undefined;
  if (task === 'regression' && valueOutput === undefined) throw invalidParam('value_output', `a regression model needs a numeric output of values; name one of ${facts.outputs.map((o) => `"${o.name}" (${o.type})`).join(', ')}`);
  let inputs: SignatureTensor[] = facts.inputs;
  if (options.columns) {
    const matrix = facts.inputs.filter((i) => i.shape.length === 2 && i.shape[1] !== 1);
    if (facts.inputs.length !== 1 || matrix.length !== 1) {
      throw invalidParam('columns', `columns fill a model with one input of shape [N, d]; this one has inputs ${facts.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ')}`);
    }
    const d = matrix[0].shape[1];
    if (typeof d === 'number' && d !== options.columns.length) throw invalidParam('columns', `input "${matrix[0].name}" has ${d} features; ${options.columns.length} columns were given`);
    if (new Set(options.columns).size !== options.columns.length) throw invalidParam('columns', 'a column is listed twice');
    inputs = [{ ...matrix[0], columns: [...options.columns] }];
  }
  return {
    format: 'mloop.signature/1',
    source: 'external',
    inputs,
    outputs: facts.outputs,
    ...(task ? { task } : {}),
    ...(options.target ? { target: options.target } : {}),
    ...(classes && task !== 'regression' ? { classes } : {}),
    ...(task && task !== 'regression' ? { probabilitiesOutput: probabilities } : {}),
    ...(task && task !== 'regression' && zipMap ? { zipMapInput: zipMap.input } : {}),
    ...(valueOutput ? { valueOutput } : {}),
    ...(label ? { labelOutput: label } : {}),
    producer: facts.producer,
  };
}
