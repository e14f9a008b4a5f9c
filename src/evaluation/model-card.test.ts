import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fairnessAudit } from './fairness.ts';
import { evaluateGate } from './gate.ts';
import { escapeHtml, escapeMarkdown, renderModelCardHtml, renderModelCardMarkdown, type ModelCardInput } from './model-card.ts';
import { sliceMetrics } from './slices.ts';

const yTrue = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0];
const yScore = [0.9, 0.2, 0.7, 0.4, 0.3, 0.6, 0.8, 0.1, 0.95, 0.35, 0.55, 0.65, 0.45, 0.15, 0.75, 0.05];
const yPred = yScore.map((p) => (p > 0.5 ? 1 : 0));
const groups = ['a|b', 'x', 'a|b', 'x', 'a|b', 'x', 'a|b', 'x', 'a|b', 'x', 'a|b', 'x', 'a|b', 'x', 'a|b', 'x'];
const XSS = '<script>alert("x")</script>';

function card(): ModelCardInput {
  return {
    model: { name: 'churn', version: '7', task: 'binary', kind: 'hist_gradient_boosting', description: `Predicts churn. ${XSS}\nSecond line with [click](javascript:alert(1)) and *stars*.`, owners: ['ana'] },
    intendedUse: { description: 'Retention offers.', primaryUses: ['- rank customers', '# not a heading'], outOfScope: ['credit decisions'] },
    data: {
      training: { name: 'customers<img src=x onerror=alert(1)>', version: 'sha256:abc', rows: 1000, columns: [{ name: 'tenure', type: 'numeric', missingFraction: 0.012, summary: 'mean 14.2' }] },
      evaluation: { name: 'customers', version: 'sha256:def', rows: 16 },
    },
    metrics: [
      { name: 'roc_auc', value: 0.91234, lower: 0.85, upper: 0.96, method: 'bootstrap' },
      { name: 'accuracy', value: 0.8125, lower: 0.57, upper: 0.93, method: 'wilson' },
    ],
    confidence: 0.95,
    slices: [sliceMetrics({ task: 'binary', yTrue, yScore }, { name: 'segment', kind: 'categorical', values: groups }, { metrics: ['accuracy'] })],
    fairness: [fairnessAudit({ yTrue, yPred, groups, attribute: 'region' })],
    topFeatures: { method: 'permutation importance (roc_auc drop)', features: [{ name: 'tenure', importance: 0.12, std: 0.01 }, { name: 'plan_<b>', importance: 0.05 }] },
    gate: evaluateGate({ checks: [{ kind: 'threshold', metric: 'roc_auc', op: '>=', value: 0.95 }, { kind: 'latency', maxP99Ms: 10 }] }, { metrics: { roc_auc: 0.91234 }, latencyP99Ms: 4 }),
    limitations: ['Trained on 2023 data only.'],
    lineage: { run: 'r-123', 'dataset version': 'sha256:abc' },
  };
}

describe('model card', () => {
  it('escapes user-supplied text in HTML: a <script> in the description stays text', () => {
    const html = renderModelCardHtml(card());
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
    assert.ok(html.includes('plan_&lt;b&gt;'));
    assert.ok(html.includes('Predicts churn.'));
  });

  it('HTML is one self-contained page: no external resources, a restrictive CSP, the sections and numbers', () => {
    const html = renderModelCardHtml(card());
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /<[^>]*\b(src|href)\s*=/i);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/);
    for (const heading of ['Intended use', 'Data', 'Metrics', 'Slices by segment', 'Fairness: region', 'Top features', 'Validation gate', 'Limitations', 'Lineage']) {
      assert.ok(html.includes(`>${heading}</h2>`), heading);
    }
    assert.ok(html.includes('<td>0.9123</td><td>[0.85, 0.96]</td><td>bootstrap</td>'));
    assert.ok(html.includes('class="status fail">FAILED: failed 1 of 2 checks: roc_auc &gt;= 0.95'));
    assert.ok(html.includes('<td>1.2%</td>'), 'missing fraction as a percentage');
  });

  it('escapes user-supplied text in Markdown: no raw HTML, links, emphasis, list or heading markers, or cell breaks', () => {
    const md = renderModelCardMarkdown(card());
    assert.doesNotMatch(md, /<script/i);
    assert.doesNotMatch(md, /<img/i);
    assert.ok(md.includes('&lt;script&gt;alert("x")&lt;/script&gt;'));
    assert.ok(md.includes('\\[click\\](javascript:alert(1))'));
    assert.ok(md.includes('\\*stars\\*'));
    assert.ok(md.includes('- \\- rank customers'));
    assert.ok(md.includes('- \\# not a heading'));
    assert.ok(md.startsWith('# Model card: churn v7\n'));
    // Every table row has as many cells as its header once escaped pipes are ignored.
    const cells = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    const tables = md.split('\n\n').filter((p) => p.includes('| --- |'));
    assert.ok(tables.length >= 7);
    for (const t of tables) {
      const rows = t.split('\n').filter((l) => l.startsWith('|'));
      for (const r of rows) assert.equal(cells(r), cells(rows[0]), r);
    }
    assert.ok(md.includes('| a\\|b |'), 'a group name with a pipe stays in its cell');
  });

  it('Markdown and HTML carry the same content', () => {
    const md = renderModelCardMarkdown(card());
    const html = renderModelCardHtml(card());
    const unescaped = md.replace(/\\(.)/g, '$1');
    for (const text of ['0.9123', '[0.57, 0.93]', '[0.6756, 1]', 'permutation importance (roc_auc drop)', 'r-123', 'FAILED: failed 1 of 2 checks', 'Trained on 2023 data only']) {
      assert.ok(unescaped.includes(text), `markdown has ${text}`);
      assert.ok(html.includes(text), `html has ${text}`);
    }
  });

  it('fairness: each group against the reference (disparate impact, signed parity difference) and the min/max pair as demographic parity', () => {
    const report = card().fairness![0];
    const md = renderModelCardMarkdown(card()).replace(/\\(.)/g, '$1');
    assert.ok(md.includes(`Reference group: ${report.reference}. Over all groups: demographic parity ratio (min/max selection rate) `));
    assert.ok(md.includes('| Group | Rows | Selection rate | Disparate impact | Statistical parity difference | TPR |'));
    for (const g of report.groups) {
      const round = (x: number) => String(Number(x.toPrecision(4)));
      assert.ok(md.includes(`| ${g.group} | ${g.count} | ${round(g.rates.selection_rate!)} | ${round(g.disparateImpact!)} | ${round(g.statisticalParityDifference!)} |`), g.group);
    }
  });

  it('renders a minimal card', () => {
    const md = renderModelCardMarkdown({ model: { name: 'm', version: '1' } });
    assert.equal(md, '# Model card: m v1\n');
    assert.match(renderModelCardHtml({ model: { name: 'm', version: '1' } }), /<title>Model card: m v1<\/title>/);
  });

  it('escape helpers', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    assert.equal(escapeMarkdown('1. item'), '1\\. item');
    assert.equal(escapeMarkdown('a_b | `c`'), 'a\\_b \\| \\`c\\`');
    assert.equal(escapeMarkdown('-0.5'), '-0.5');
    assert.equal(escapeMarkdown('==='), '\\===');
    assert.equal(escapeMarkdown('# x'), '\\# x');
  });
});
