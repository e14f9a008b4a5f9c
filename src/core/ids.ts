/** Identifiers. */
import { randomUUID } from 'node:crypto';

/** A 32-character lowercase hex id, the shape MLflow uses for run ids. */
export function newHexId(): string {
  return randomUUID().replaceAll('-', '');
}

/** A random UUID in its canonical form. */
export function newUuid(): string {
  return randomUUID();
}
