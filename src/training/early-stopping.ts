/**
 * The validation hold-out of trainers that stop early on a held-out score (histogram gradient
 * boosting, the MLP), as scikit-learn's `train_test_split` does it for them: stratified by class for
 * classification. Not the training service's holdout (`cv.ts` `holdoutSplit`), which keeps a training
 * row of every class and draws each class from its own stream.
 */
import type { Random } from '../core/random.ts';

/**
 * Holds out `ceil(fraction × n)` rows for validation, chosen with `rng`: for classification
 * (`nClasses` > 0, `y` holding class indices) each class in proportion, the rows left over by rounding
 * going to the classes with the largest remainders; for regression (`nClasses` 0) a plain random
 * draw. Both index lists are sorted.
 */
export function validationSplit(y: Float64Array, nClasses: number, fraction: number, rng: Random): { train: Uint32Array; validation: Uint32Array } {
  const n = y.length;
  const nVal = Math.ceil(fraction * n);
  const isVal = new Uint8Array(n);
  if (nClasses === 0) {
    const perm = rng.permutation(n);
    for (let j = 0; j < nVal; j++) isVal[perm[j]] = 1;
  } else {
    const groups: number[][] = Array.from({ length: nClasses }, () => []);
    for (let i = 0; i < n; i++) groups[y[i]].push(i);
    const exact = groups.map((g) => (nVal * g.length) / n);
    const quota = exact.map(Math.floor);
    let left = nVal - quota.reduce((s, q) => s + q, 0);
    const order = exact.map((_e, k) => k).sort((a, b) => exact[b] - quota[b] - (exact[a] - quota[a]) || a - b);
    for (const k of order) {
      if (left === 0) break;
      if (quota[k] < groups[k].length) {
        quota[k]++;
        left--;
      }
    }
    for (let k = 0; k < nClasses; k++) {
      const g = rng.shuffle(groups[k]);
      for (let j = 0; j < quota[k]; j++) isVal[g[j]] = 1;
    }
  }
  let nv = 0;
  for (let i = 0; i < n; i++) nv += isVal[i];
  const train = new Uint32Array(n - nv);
  const validation = new Uint32Array(nv);
  for (let i = 0, t = 0, v = 0; i < n; i++) {
    if (isVal[i]) validation[v++] = i;
    else train[t++] = i;
  }
  return { train, validation };
}
