/**
 * The files of a model in the artifact store, one folder per model (a run's `model/` or an imported
 * model's folder):
 *
 * - `model.onnx` — the servable model (preprocessing included for built-in models);
 * - `pipeline.json` — the TypeScript pipeline state of built-in models (explanations read it);
 * - `signature.json` — inputs, outputs (names, element types, shapes), task, classes and which output
 *   holds what; for external models read from the ONNX file;
 * - `MLmodel` — MLflow's model metadata (ONNX flavor, tensor-spec signature), so MLflow clients can
 *   load the folder with `mlflow.onnx`.
 */
import { Readable } from 'node:stream';
import { stringify as toYaml } from 'yaml';
import type { RequestContext } from '../core/context.ts';
import { MloopError, notFound } from '../core/errors.ts';
import { joinKey } from '../core/paths.ts';
import { artifactUriToKey, type ArtifactService } from '../tracking/artifacts.ts';
import type { ModelSignature, PipelineState } from './pipeline.ts';
import type { ScoringSignature, SignatureTensor } from './scoring.ts';
import type { Task } from './types.ts';

/** File names inside a model folder. */
export const MODEL_FILES = Object.freeze({ onnx: 'model.onnx', pipeline: 'pipeline.json', signature: 'signature.json', mlmodel: 'MLmodel' });

/** The signature stored with every model (built-in or external). */
export interface StoredSignature extends Omit<ScoringSignature, 'task'> {
  /** What the model does; absent for an external model nobody described. */
  readonly task?: Task;
  readonly format: 'mloop.signature/1';
  /** `mloop` for built-in pipelines, `external` for imported ONNX files. */
  readonly source: 'mloop' | 'external';
  readonly inputs: readonly (SignatureTensor & { readonly kind?: 'numeric' | 'categorical' })[];
  readonly target?: string;
  readonly classes?: readonly string[];
  /** Classification: the output holding the predicted class index (built-in) or label. */
  readonly labelOutput?: string;
  readonly missing?: ModelSignature['missing'];
  /** Producer of the ONNX file, its IR version and opsets (external models). */
  readonly producer?: { readonly name: string; readonly version: string; readonly irVersion: number; readonly opsets: readonly { domain: string; version: number }[] };
}

/** The stored signature of a built-in pipeline. */
export function builtInSignature(signature: ModelSignature, target: string): StoredSignature {
  const classification = signature.task !== 'regression';
  return {
    format: 'mloop.signature/1',
    source: 'mloop',
    inputs: signature.inputs.map((i) => ({ name: i.name, type: i.type, shape: [...i.shape], kind: i.kind })),
    outputs: signature.outputs.map((o) => ({ name: o.name, type: o.type, shape: [...o.shape] })),
    task: signature.task,
    target,
    ...(signature.classes ? { classes: [...signature.classes] } : {}),
    ...(classification ? { probabilitiesOutput: 'probabilities', labelOutput: 'label' } : { valueOutput: 'variable' }),
    missing: signature.missing,
  };
}

/** Tag of a model version holding the inputs and outputs of its signature as compact JSON. */
export const SIGNATURE_TAG = 'mloop.signature';

/**
 * The {@link SIGNATURE_TAG} tag of a version, so the registry shows what the model reads and returns;
 * none when the JSON exceeds a tag's 5,000 characters (the full signature stays in `signature.json`).
 */
export function signatureTags(signature: StoredSignature): { key: string; value: string }[] {
  const value = JSON.stringify({ inputs: signature.inputs, outputs: signature.outputs });
  return value.length <= 5000 ? [{ key: SIGNATURE_TAG, value }] : [];
}

const MLFLOW_DTYPES: Record<string, string> = { float: 'float32', double: 'float64', int64: 'int64', int32: 'int32', string: 'str', bool: 'bool' };

/** MLflow's `MLmodel` document for a model folder. */
export function mlmodelYaml(options: { signature: StoredSignature; runId?: string; createdAt: number; modelUuid: string; extra?: Record<string, unknown> }): string {
  const spec = (t: SignatureTensor) => ({
    type: 'tensor',
    'tensor-spec': { dtype: MLFLOW_DTYPES[t.type] ?? t.type, shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) },
    name: t.name,
  });
  const created = new Date(options.createdAt).toISOString().replace('T', ' ').replace('Z', '000');
  return toYaml({
    artifact_path: 'model',
    flavors: {
      onnx: { code: null, data: MODEL_FILES.onnx, providers: ['CPUExecutionProvider'] },
      mloop: { signature: MODEL_FILES.signature, ...(options.signature.source === 'mloop' ? { pipeline: MODEL_FILES.pipeline } : {}), ...options.extra },
    },
    model_uuid: options.modelUuid,
    ...(options.runId ? { run_id: options.runId } : {}),
    utc_time_created: created,
    signature: {
      inputs: JSON.stringify(options.signature.inputs.map(spec)),
      outputs: JSON.stringify(options.signature.outputs.map(spec)),
    },
  });
}

/** Writes a model folder under blob key `folder` through the artifact service. */
export async function writeModelFolder(
  artifacts: ArtifactService,
  ctx: RequestContext,
  folder: string,
  files: { onnx: Uint8Array; pipeline?: PipelineState; signature: StoredSignature; mlmodel: string },
): Promise<{ onnxBytes: number }> {
  const put = (name: string, data: Uint8Array | string) => artifacts.upload(ctx, joinKey(folder, name), Readable.from([typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)]));
  await put(MODEL_FILES.onnx, files.onnx);
  if (files.pipeline) await put(MODEL_FILES.pipeline, JSON.stringify(files.pipeline));
  await put(MODEL_FILES.signature, JSON.stringify(files.signature, null, 2));
  await put(MODEL_FILES.mlmodel, files.mlmodel);
  return { onnxBytes: files.onnx.length };
}

/** A model folder read back. */
export interface ModelFolder {
  readonly onnx: Uint8Array;
  readonly signature: StoredSignature;
  readonly pipeline?: PipelineState;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads the model folder at an `mlflow-artifacts:` storage location (a model version's). */
export async function readModelFolder(artifacts: ArtifactService, storageLocation: string, what: string): Promise<ModelFolder> {
  let folder: string;
  try {
    folder = artifactUriToKey(storageLocation, 'storage_location');
  } catch {
    throw new MloopError('INVALID_STATE', `${what}: its files are at ${storageLocation}, outside this server's artifact store`);
  }
  const read = async (name: string, required: boolean): Promise<Buffer | undefined> => {
    try {
      return await readAll((await artifacts.download(joinKey(folder, name))).stream);
    } catch (error) {
      if (error instanceof MloopError && error.code === 'RESOURCE_DOES_NOT_EXIST' && !required) return undefined;
      if (error instanceof MloopError && error.code === 'RESOURCE_DOES_NOT_EXIST') throw notFound(`${what}: no ${name} in its model folder (${storageLocation}); only ONNX models registered by mloop can be evaluated`);
      throw error;
    }
  };
  const onnx = (await read(MODEL_FILES.onnx, true))!;
  const signatureText = await read(MODEL_FILES.signature, true);
  const pipelineText = await read(MODEL_FILES.pipeline, false);
  return {
    onnx: new Uint8Array(onnx.buffer, onnx.byteOffset, onnx.byteLength),
    signature: JSON.parse(signatureText!.toString('utf8')) as StoredSignature,
    ...(pipelineText ? { pipeline: JSON.parse(pipelineText.toString('utf8')) as PipelineState } : {}),
  };
}
