/**
 * What a model card shows, gathered for one model version: the card spec of its registered model
 * (intended use, limitations, owners — else the model's description), its training and evaluation data
 * (versions with profile summaries), metrics with intervals (of its latest evaluation, else of its
 * training run's holdout), slices, fairness, top features, the gate result, and its lineage (run,
 * datasets, feature service, params hash, code version, seed). Rendering is `model-card.ts`'s.
 */
import type { RequestContext } from '../core/context.ts';
import type { ModelCardDataset, ModelCardInput, ModelCardMetric } from './model-card.ts';
import { CARD_SPEC_TAG, EVALUATION_TAG, type CardSpec } from './domain.ts';
import type { EvaluationDeps, EvaluationReport } from './service.ts';

/**
 * The model card input of version (or alias) `versionOrAlias` of registered model `name`;
 * `getEvaluation` reads a stored evaluation by id.
 */
export async function modelCardInput(
  deps: Pick<EvaluationDeps, 'registry' | 'tracking' | 'datasets'>,
  ctx: RequestContext,
  name: string,
  versionOrAlias: string,
  getEvaluation: (id: string) => Promise<EvaluationReport>,
): Promise<ModelCardInput> {
  const version = /^\d+$/.test(versionOrAlias)
    ? await deps.registry.getModelVersion(ctx, name, versionOrAlias)
    : await deps.registry.getModelVersionByAlias(ctx, name, versionOrAlias);
  const model = await deps.registry.getRegisteredModel(ctx, name);
  const tag = (key: string) => version.tags.find((t) => t.key === key)?.value;
  const cardTag = model.tags.find((t) => t.key === CARD_SPEC_TAG)?.value;
  const card: CardSpec = cardTag ? (JSON.parse(cardTag) as CardSpec) : {};
  const evaluationId = tag(EVALUATION_TAG);
  let evaluation: EvaluationReport | undefined;
  if (evaluationId) evaluation = await getEvaluation(evaluationId).catch(() => undefined);

  let trainingData: ModelCardDataset | undefined;
  const datasets = tag('mloop.datasets');
  if (datasets) {
    const [ref] = JSON.parse(datasets) as string[];
    trainingData = await cardDataset(deps, ctx, ref);
  }
  let evaluationData: ModelCardDataset | undefined;
  if (evaluation) {
    const ref = `${evaluation.dataset.name}@${evaluation.dataset.version}`;
    // The same version as the training data: its profile is shown once.
    evaluationData = datasets && (JSON.parse(datasets) as string[]).includes(ref)
      ? { name: evaluation.dataset.name, version: evaluation.dataset.version.slice(0, 12), rows: evaluation.rows.evaluated }
      : await cardDataset(deps, ctx, ref, evaluation.rows.evaluated);
  }

  let metrics: ModelCardMetric[] | undefined;
  let confidence: number | undefined;
  if (evaluation) {
    metrics = Object.entries(evaluation.metrics)
      .filter(([, m]) => m.value !== null)
      .map(([metricName, m]) => ({ name: metricName, value: m.value!, lower: m.lower, upper: m.upper, method: m.lower === null ? null : 'bootstrap' }));
    confidence = evaluation.confidence;
  } else if (version.run_id) {
    const run = await deps.tracking.getRun(ctx, version.run_id).catch(() => undefined);
    if (run) {
      const byKey = new Map(run.data.metrics.map((m) => [m.key, m.value]));
      metrics = run.data.metrics
        .filter((m) => m.key.startsWith('holdout_') && !m.key.endsWith('_ci_lower') && !m.key.endsWith('_ci_upper') && m.key !== 'holdout_rows')
        .map((m) => ({ name: m.key.slice('holdout_'.length), value: m.value, lower: byKey.get(`${m.key}_ci_lower`) ?? null, upper: byKey.get(`${m.key}_ci_upper`) ?? null, method: byKey.has(`${m.key}_ci_lower`) ? 'bootstrap' : null }));
    }
  }

  let topFeatures: ModelCardInput['topFeatures'];
  const ex = evaluation?.explanations;
  if (ex?.permutation) {
    topFeatures = {
      method: `permutation importance (drop of ${ex.permutation.metric}, ${ex.permutation.rows} rows)`,
      features: ex.permutation.features.slice(0, 10).map((f) => ({ name: f.feature, importance: f.mean, std: f.std })),
    };
  } else if (ex?.shap) {
    topFeatures = { method: `mean |SHAP| (${ex.shap.method === 'tree' ? 'TreeSHAP' : 'KernelSHAP'}, ${ex.shap.output})`, features: ex.shap.meanAbs.slice(0, 10).map((f) => ({ name: f.feature, importance: f.value })) };
  }

  const lineage: Record<string, string> = {};
  if (version.run_id) lineage.run = version.run_id;
  for (const [key, label] of [
    ['mloop.datasets', 'datasets'],
    ['mloop.feature_service', 'feature service'],
    ['mloop.params_hash', 'params hash'],
    ['mloop.code_version', 'code version'],
    ['mloop.seed', 'seed'],
    ['mloop.job_id', 'training job'],
  ] as const) {
    const value = tag(key);
    if (value !== undefined) lineage[label] = value;
  }
  lineage.source = version.source;
  if (evaluation) lineage.evaluation = evaluation.id;

  const limitations = [...(card.limitations ?? [])];
  if (evaluation?.notes.length) limitations.push(...evaluation.notes);
  const input: ModelCardInput = {
    model: {
      name: version.name,
      version: version.version,
      ...(tag('mloop.task') ? { task: tag('mloop.task') } : evaluation ? { task: evaluation.task } : {}),
      ...(tag('mloop.model_kind') ? { kind: tag('mloop.model_kind') } : tag('mloop.source') ? { kind: `external ONNX (${tag('mloop.source')})` } : {}),
      ...(version.description ?? model.description ? { description: version.description ?? model.description } : {}),
      ...(card.owners?.length ? { owners: card.owners } : version.user_id ? { owners: [version.user_id] } : {}),
      createdAt: new Date(version.creation_timestamp).toISOString(),
    },
    ...(card.intended_use || card.primary_uses || card.users || card.out_of_scope || model.description
      ? {
          intendedUse: {
            ...(card.intended_use ?? model.description ? { description: card.intended_use ?? model.description } : {}),
            ...(card.primary_uses ? { primaryUses: card.primary_uses } : {}),
            ...(card.users ? { users: card.users } : {}),
            ...(card.out_of_scope ? { outOfScope: card.out_of_scope } : {}),
          },
        }
      : {}),
    ...(trainingData || evaluationData ? { data: { ...(trainingData ? { training: trainingData } : {}), ...(evaluationData ? { evaluation: evaluationData } : {}) } } : {}),
    ...(metrics?.length ? { metrics } : {}),
    ...(confidence !== undefined ? { confidence } : {}),
    ...(evaluation?.slices.length ? { slices: evaluation.slices } : {}),
    ...(evaluation?.fairness.length ? { fairness: evaluation.fairness } : {}),
    ...(topFeatures ? { topFeatures } : {}),
    ...(evaluation?.gate ? { gate: evaluation.gate.result } : {}),
    ...(limitations.length ? { limitations } : {}),
    ...(card.ethical_considerations?.length ? { ethicalConsiderations: card.ethical_considerations } : {}),
    lineage,
  };
  return input;
}

async function cardDataset(deps: Pick<EvaluationDeps, 'datasets'>, ctx: RequestContext, ref: string, rows?: number): Promise<ModelCardDataset> {
  const at = ref.lastIndexOf('@');
  const name = ref.slice(0, at);
  const version = ref.slice(at + 1);
  try {
    const v = await deps.datasets.getVersion(ctx, name, version);
    return {
      name,
      version: version.slice(0, 12),
      rows: rows ?? v.row_count,
      columns: v.profile!.columns.slice(0, 50).map((c) => ({
        name: c.name,
        type: c.type,
        missingFraction: c.null_fraction,
        summary:
          c.mean !== undefined
            ? `mean ${fmt(c.mean)}, std ${fmt(c.std)}, range [${fmt(c.min)}, ${fmt(c.max)}]`
            : c.top?.length
              ? `${c.distinct} values; top ${c.top.slice(0, 3).map((t) => `${t.value} (${Math.round(t.frequency * 100)}%)`).join(', ')}`
              : `${c.distinct} distinct`,
      })),
    };
  } catch {
    return { name, version: version.slice(0, 12), ...(rows !== undefined ? { rows } : {}) };
  }
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v ?? '—');
}
