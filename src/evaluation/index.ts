/**
 * The evaluation module's pure logic: metrics, slices, fairness audits, explanations, validation
 * gates and model cards. No I/O: everything takes arrays (plain or typed) and `predict` functions,
 * so the service, routes and CLI can sit on top.
 */
export * from './metrics/common.ts';
export * from './metrics/classification.ts';
export * from './metrics/regression.ts';
export * from './metrics/calibration.ts';
export * from './metrics/registry.ts';
export * from './stats.ts';
export * from './bootstrap.ts';
export * from './slices.ts';
export * from './fairness.ts';
export * from './explain/types.ts';
export * from './explain/permutation.ts';
export * from './explain/kernel-shap.ts';
export * from './explain/explanations.ts';
export * from './gate.ts';
export * from './model-card.ts';
