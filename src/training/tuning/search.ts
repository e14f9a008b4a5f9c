/**
 * Search strategies over a hyperparameter space: the candidates of a grid (every combination, in a
 * fixed order), a seeded random draw, and the rung schedule of successive halving.
 *
 * Successive halving (Jamieson & Talwalkar 2016, as scikit-learn's `HalvingGridSearchCV`): every
 * candidate is cross-validated with a small resource; the best 1/factor go on to the next rung with
 * factor times the resource, until one rung is left or the resource is at its maximum. The resource is
 * either `rows` — the training rows of each cross-validation fold, subsampled (stratified for
 * classification) — or `iterations` — the trainer's iteration budget (`maxIter` / `max_iter`). With no
 * `min_resource`, the smallest rung is chosen so that the last rung uses the whole `max_resource`
 * (scikit-learn's `min_resources='exhaust'`; the last rung then gets exactly `max_resource`), but never fewer than `floor` (enough rows to hold every
 * class in every fold).
 */
import { invalidParam } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import type { Candidate, ParamSpace } from '../spec.ts';

/** True when every dimension of the space is a list of values (so it has a grid). */
export function isGrid(space: Readonly<Record<string, ParamSpace>>): boolean {
  return Object.values(space).every((s) => Array.isArray(s) || 'values' in s);
}

function valuesOf(space: ParamSpace): unknown[] | undefined {
  if (Array.isArray(space)) return space;
  if ('values' in space) return space.values;
  return undefined;
}

/** Number of combinations of a grid space. */
export function gridSize(space: Readonly<Record<string, ParamSpace>>): number {
  return Object.values(space).reduce<number>((n, s) => n * (valuesOf(s)?.length ?? Infinity), 1);
}

/** Every combination of a grid space, the last hyperparameter varying fastest (as scikit-learn's ParameterGrid with sorted keys). */
export function gridCandidates(space: Readonly<Record<string, ParamSpace>>): Candidate[] {
  const keys = Object.keys(space).sort();
  let out: Candidate[] = [{}];
  for (const key of keys) {
    const values = valuesOf(space[key]);
    if (!values) throw invalidParam(`search.space.${key}`, 'a grid needs a list of values, not a distribution');
    out = out.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  return out;
}

/** `n` candidates drawn with `seed`: lists uniformly, `uniform`/`loguniform`/`int` from their ranges. Duplicates are kept out where the space allows. */
export function randomCandidates(space: Readonly<Record<string, ParamSpace>>, n: number, seed: number): Candidate[] {
  const rng = new Random(seed);
  const keys = Object.keys(space).sort();
  const seen = new Set<string>();
  const out: Candidate[] = [];
  const limit = Math.min(n, gridSize(space));
  for (let attempt = 0; out.length < limit && attempt < n * 50; attempt++) {
    const c: Candidate = {};
    for (const key of keys) c[key] = draw(space[key], rng);
    const id = JSON.stringify(c);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(c);
  }
  return out;
}

function draw(space: ParamSpace, rng: Random): unknown {
  const values = valuesOf(space);
  if (values) return values[rng.int(values.length)];
  const d = space as { distribution: 'uniform' | 'loguniform' | 'int'; low: number; high: number };
  switch (d.distribution) {
    case 'uniform':
      return d.low + rng.next() * (d.high - d.low);
    case 'loguniform':
      return Math.exp(Math.log(d.low) + rng.next() * (Math.log(d.high) - Math.log(d.low)));
    case 'int':
      return d.low + rng.int(d.high - d.low + 1);
  }
}

/** The resource of each rung of successive halving, smallest first. */
export function halvingRungs(nCandidates: number, options: { factor: number; maxResource: number; minResource?: number; floor: number }): number[] {
  const { factor, maxResource } = options;
  if (nCandidates < 1) return [];
  const required = 1 + Math.floor(Math.log(nCandidates) / Math.log(factor) + 1e-9);
  let min = options.minResource ?? Math.floor(maxResource / factor ** (required - 1));
  min = Math.max(min, Math.min(options.floor, maxResource));
  if (min > maxResource) throw invalidParam('search.min_resource', `${min} exceeds the maximum resource ${maxResource}`);
  const possible = 1 + Math.floor(Math.log(maxResource / min) / Math.log(factor) + 1e-9);
  const n = Math.max(1, Math.min(required, possible));
  const rungs = Array.from({ length: n }, (_, i) => Math.min(maxResource, Math.floor(min * factor ** i)));
  // Exhausting: the last rung gets all of the resource (rounding down would leave some unused).
  if (options.minResource === undefined && n === required) rungs[n - 1] = maxResource;
  return rungs;
}

/** How many candidates go on after a rung of `n`: the best ceil(n / factor), at least one. */
export function survivors(n: number, factor: number): number {
  return Math.max(1, Math.ceil(n / factor));
}
