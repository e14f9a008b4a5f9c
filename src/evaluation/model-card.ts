/**
 * Model cards (after Mitchell et al., "Model Cards for Model Reporting"): a structured input rendered
 * to Markdown and to a self-contained HTML page (inline CSS, no scripts, no external resources).
 * Everything that comes from users — names, descriptions, column values, group labels — is escaped
 * in both outputs, so a description cannot inject markup into a registry page.
 */
import type { FairnessReport } from './fairness.ts';
import type { GateResult } from './gate.ts';
import type { SliceReport } from './slices.ts';

/** A dataset version the model was trained or evaluated on. */
export interface ModelCardDataset {
  readonly name: string;
  readonly version: string;
  readonly rows?: number;
  /** Profile summary, one entry per column (type, share missing, a short free-text summary). */
  readonly columns?: readonly { readonly name: string; readonly type: string; readonly missingFraction?: number; readonly summary?: string }[];
}

/** A metric with its optional interval. */
export interface ModelCardMetric {
  readonly name: string;
  readonly value: number;
  readonly lower?: number | null;
  readonly upper?: number | null;
  /** How the interval was made (`wilson`, `bootstrap`). */
  readonly method?: string | null;
}

/** Everything a model card shows; every section but `model` is optional. */
export interface ModelCardInput {
  readonly model: {
    readonly name: string;
    readonly version: string;
    readonly task?: string;
    readonly kind?: string;
    readonly description?: string;
    readonly owners?: readonly string[];
    /** ISO 8601. */
    readonly createdAt?: string;
  };
  readonly intendedUse?: {
    readonly description?: string;
    readonly primaryUses?: readonly string[];
    readonly users?: readonly string[];
    readonly outOfScope?: readonly string[];
  };
  readonly data?: { readonly training?: ModelCardDataset; readonly evaluation?: ModelCardDataset };
  readonly metrics?: readonly ModelCardMetric[];
  /** Confidence level of the metric intervals, for the caption. */
  readonly confidence?: number;
  readonly slices?: readonly SliceReport[];
  readonly fairness?: readonly FairnessReport[];
  readonly topFeatures?: {
    /** How importance was measured (e.g. `permutation importance (roc_auc drop)`, `mean |SHAP|`). */
    readonly method: string;
    readonly features: readonly { readonly name: string; readonly importance: number; readonly std?: number }[];
  };
  readonly gate?: GateResult;
  readonly limitations?: readonly string[];
  readonly ethicalConsiderations?: readonly string[];
  /** Lineage ids: run, dataset versions, feature service, code version, parent model … */
  readonly lineage?: Readonly<Record<string, string>>;
}

function num(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(4)));
}

function interval(lower: number | null | undefined, upper: number | null | undefined): string {
  return lower === null || lower === undefined || upper === null || upper === undefined ? '—' : `[${num(lower)}, ${num(upper)}]`;
}

function pct(x: number | undefined): string {
  return x === undefined ? '—' : `${num(x * 100)}%`;
}

/** A neutral document model both renderers walk, so the two outputs always hold the same content. */
type Block =
  | { type: 'heading'; level: 1 | 2 | 3; text: string }
  | { type: 'paragraph'; text: string }
  | { type: 'list'; items: string[] }
  | { type: 'table'; header: string[]; rows: string[][]; caption?: string }
  | { type: 'status'; passed: boolean; text: string };

function blocks(card: ModelCardInput): Block[] {
  const out: Block[] = [];
  const { model } = card;
  out.push({ type: 'heading', level: 1, text: `Model card: ${model.name} v${model.version}` });
  const facts: string[] = [];
  if (model.task) facts.push(`Task: ${model.task}`);
  if (model.kind) facts.push(`Model: ${model.kind}`);
  if (model.createdAt) facts.push(`Created: ${model.createdAt}`);
  if (model.owners?.length) facts.push(`Owners: ${model.owners.join(', ')}`);
  if (facts.length) out.push({ type: 'list', items: facts });
  if (model.description) out.push({ type: 'paragraph', text: model.description });

  const use = card.intendedUse;
  if (use) {
    out.push({ type: 'heading', level: 2, text: 'Intended use' });
    if (use.description) out.push({ type: 'paragraph', text: use.description });
    const lists: [string, readonly string[] | undefined][] = [
      ['Primary uses', use.primaryUses],
      ['Intended users', use.users],
      ['Out of scope', use.outOfScope],
    ];
    for (const [title, items] of lists) {
      if (!items?.length) continue;
      out.push({ type: 'heading', level: 3, text: title });
      out.push({ type: 'list', items: [...items] });
    }
  }

  if (card.data?.training || card.data?.evaluation) {
    out.push({ type: 'heading', level: 2, text: 'Data' });
    const sets = [
      ['Training', card.data.training],
      ['Evaluation', card.data.evaluation],
    ] as const;
    out.push({
      type: 'table',
      header: ['Role', 'Dataset', 'Version', 'Rows'],
      rows: sets.filter(([, d]) => d).map(([role, d]) => [role, d!.name, d!.version, num(d!.rows)]),
    });
    for (const [role, d] of sets) {
      if (!d?.columns?.length) continue;
      out.push({
        type: 'table',
        caption: `${role} data profile (${d.name} ${d.version})`,
        header: ['Column', 'Type', 'Missing', 'Summary'],
        rows: d.columns.map((c) => [c.name, c.type, pct(c.missingFraction), c.summary ?? '']),
      });
    }
  }

  if (card.metrics?.length) {
    out.push({ type: 'heading', level: 2, text: 'Metrics' });
    const level = card.confidence === undefined ? 'confidence' : `${num(card.confidence * 100)}%`;
    out.push({
      type: 'table',
      caption: `Holdout metrics with ${level} intervals`,
      header: ['Metric', 'Value', 'Interval', 'Method'],
      rows: card.metrics.map((m) => [m.name, num(m.value), interval(m.lower, m.upper), m.method ?? '—']),
    });
  }

  for (const report of card.slices ?? []) {
    out.push({ type: 'heading', level: 2, text: `Slices by ${report.column}` });
    const names = Object.keys(report.overall.metrics);
    const row = (key: string, count: number, metrics: SliceReport['overall']['metrics']) => [
      key,
      String(count),
      ...names.flatMap((n) => {
        const m = metrics[n];
        return [num(m.value), interval(m.lower, m.upper)];
      }),
    ];
    out.push({
      type: 'table',
      caption: `${num(report.confidence * 100)}% intervals: Wilson for proportions, percentile bootstrap otherwise`,
      header: ['Slice', 'Rows', ...names.flatMap((n) => [n, `${n} interval`])],
      rows: [row('all rows', report.overall.count, report.overall.metrics), ...report.slices.map((s) => row(s.key, s.count, s.metrics))],
    });
  }

  for (const report of card.fairness ?? []) {
    out.push({ type: 'heading', level: 2, text: `Fairness: ${report.attribute}` });
    out.push({
      type: 'paragraph',
      text: `Reference group: ${report.reference}. Over all groups: demographic parity ratio (min/max selection rate) ${num(report.overall.demographicParityRatio)}, demographic parity difference (max − min) ${num(report.overall.demographicParityDifference)}, equalized-odds difference ${num(report.overall.equalizedOddsDifference)}.`,
    });
    out.push({
      type: 'table',
      caption: `Disparate impact and statistical parity difference: the group's selection rate against group ${report.reference}'s (ratio, difference)`,
      header: ['Group', 'Rows', 'Selection rate', 'Disparate impact', 'Statistical parity difference', 'TPR', 'FPR', 'FNR', 'Precision'],
      rows: report.groups.map((g) => [
        g.group,
        String(g.count),
        num(g.rates.selection_rate),
        num(g.disparateImpact),
        num(g.statisticalParityDifference),
        ...(['tpr', 'fpr', 'fnr', 'precision'] as const).map((r) => num(g.rates[r])),
      ]),
    });
    if (report.flagged.length === 0) {
      out.push({ type: 'status', passed: true, text: `No significant disparity outside [${num(report.tau)}, ${num(1 / report.tau)}] at alpha ${num(report.alpha)}.` });
    } else {
      out.push({
        type: 'table',
        caption: `Flagged disparities (significant at alpha ${num(report.alpha)}, ratio outside [${num(report.tau)}, ${num(1 / report.tau)}])`,
        header: ['Group', 'Rate', 'Value', 'Reference', 'Ratio', 'Difference', 'Test', 'p-value'],
        rows: report.flagged.map((d) => [d.group, d.rate, num(d.value), num(d.referenceValue), num(d.ratio), num(d.difference), d.test ?? '—', num(d.pValue)]),
      });
    }
  }

  if (card.topFeatures?.features.length) {
    out.push({ type: 'heading', level: 2, text: 'Top features' });
    out.push({
      type: 'table',
      caption: card.topFeatures.method,
      header: ['Feature', 'Importance', 'Std'],
      rows: card.topFeatures.features.map((f) => [f.name, num(f.importance), num(f.std)]),
    });
  }

  if (card.gate) {
    out.push({ type: 'heading', level: 2, text: 'Validation gate' });
    out.push({ type: 'status', passed: card.gate.passed, text: `${card.gate.passed ? 'PASSED' : 'FAILED'}: ${card.gate.summary}` });
    out.push({
      type: 'table',
      header: ['Check', 'Result', 'Reason'],
      rows: card.gate.checks.map((c) => [c.name, c.passed ? 'pass' : 'FAIL', c.reason]),
    });
  }

  const lists: [string, readonly string[] | undefined][] = [
    ['Limitations', card.limitations],
    ['Ethical considerations', card.ethicalConsiderations],
  ];
  for (const [title, items] of lists) {
    if (!items?.length) continue;
    out.push({ type: 'heading', level: 2, text: title });
    out.push({ type: 'list', items: [...items] });
  }

  if (card.lineage && Object.keys(card.lineage).length) {
    out.push({ type: 'heading', level: 2, text: 'Lineage' });
    out.push({ type: 'table', header: ['Item', 'Id'], rows: Object.entries(card.lineage).map(([k, v]) => [k, v]) });
  }
  return out;
}

/**
 * Escapes text for Markdown: HTML-significant characters become entities (so raw HTML never
 * renders), inline punctuation is backslash-escaped (so user text cannot open links, images,
 * emphasis, code spans or table cells), and a leading block marker (`# `, `- `, `+ `, `1. `, a line
 * of `=` or `-`) is escaped so the text cannot start a heading or a list.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/^(\s*)([#+-])(?=\s|$)/, '$1\\$2')
    .replace(/^(\s*)([=-])(?=[=-]*\s*$)/, '$1\\$2')
    .replace(/^(\s*\d+)([.)])(?=\s|$)/, '$1\\$2');
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const oneLine = (s: string) => s.replace(/\r?\n|\r/g, ' ');

/** Renders a model card as Markdown (CommonMark with GitHub tables). */
export function renderModelCardMarkdown(card: ModelCardInput): string {
  const md = (s: string) => escapeMarkdown(oneLine(s));
  const parts: string[] = [];
  for (const b of blocks(card)) {
    switch (b.type) {
      case 'heading':
        parts.push(`${'#'.repeat(b.level)} ${md(b.text)}`);
        break;
      case 'paragraph':
        parts.push(
          b.text
            .split(/\r?\n/)
            .map((line) => escapeMarkdown(line))
            .join('  \n'),
        );
        break;
      case 'list':
        parts.push(b.items.map((i) => `- ${md(i)}`).join('\n'));
        break;
      case 'status':
        parts.push(`**${md(b.text)}**`);
        break;
      case 'table': {
        const lines: string[] = [];
        if (b.caption) lines.push(`*${md(b.caption)}*`, '');
        lines.push(`| ${b.header.map(md).join(' | ')} |`);
        lines.push(`| ${b.header.map(() => '---').join(' | ')} |`);
        for (const row of b.rows) lines.push(`| ${row.map(md).join(' | ')} |`);
        parts.push(lines.join('\n'));
        break;
      }
    }
  }
  return `${parts.join('\n\n')}\n`;
}

const STYLE = `body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}caption{caption-side:top;text-align:left;font-style:italic;padding-bottom:.25rem}
.status{padding:.5rem .75rem;border-radius:4px;font-weight:600}.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}`;

/** Renders a model card as one self-contained HTML page. */
export function renderModelCardHtml(card: ModelCardInput): string {
  const h = escapeHtml;
  const body: string[] = [];
  for (const b of blocks(card)) {
    switch (b.type) {
      case 'heading':
        body.push(`<h${b.level}>${h(b.text)}</h${b.level}>`);
        break;
      case 'paragraph':
        body.push(`<p>${b.text.split(/\r?\n/).map(h).join('<br>')}</p>`);
        break;
      case 'list':
        body.push(`<ul>${b.items.map((i) => `<li>${h(i)}</li>`).join('')}</ul>`);
        break;
      case 'status':
        body.push(`<p class="status ${b.passed ? 'pass' : 'fail'}">${h(b.text)}</p>`);
        break;
      case 'table':
        body.push(
          `<table>${b.caption ? `<caption>${h(b.caption)}</caption>` : ''}<thead><tr>${b.header.map((c) => `<th>${h(c)}</th>`).join('')}</tr></thead><tbody>${b.rows
            .map((r) => `<tr>${r.map((c) => `<td>${h(c)}</td>`).join('')}</tr>`)
            .join('')}</tbody></table>`,
        );
        break;
    }
  }
  const title = h(`Model card: ${card.model.name} v${card.model.version}`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}
