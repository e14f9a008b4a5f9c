/**
 * The evaluation module's records on the registry: the tags that hold a registered model's gate and
 * card specs and a version's latest evaluation and gate outcome, and the card spec's schema.
 */
import { z } from 'zod';

/** Tag of a registered model holding its gate spec (JSON). */
export const GATE_SPEC_TAG = 'mloop.gate_spec';
/** Tag of a registered model holding its model-card spec (JSON). */
export const CARD_SPEC_TAG = 'mloop.card_spec';
/** Tag of a model version: `passed` or `failed`, the outcome of its latest gated evaluation. */
export const GATE_TAG = 'mloop.gate';
/** Tag of a model version: the id of its latest evaluation. */
export const EVALUATION_TAG = 'mloop.evaluation_id';

/** The card spec a registered model may declare (intended use, limitations...). */
export const cardSpecSchema = z.strictObject({
  intended_use: z.string().max(10_000).optional(),
  primary_uses: z.array(z.string().max(2000)).max(50).optional(),
  users: z.array(z.string().max(2000)).max(50).optional(),
  out_of_scope: z.array(z.string().max(2000)).max(50).optional(),
  limitations: z.array(z.string().max(2000)).max(50).optional(),
  ethical_considerations: z.array(z.string().max(2000)).max(50).optional(),
  owners: z.array(z.string().max(200)).max(20).optional(),
});

/** A model-card spec. */
export type CardSpec = z.output<typeof cardSpecSchema>;
