/**
 * What a contract suite needs to know about a backend: its name, why it cannot run here (if it
 * cannot), and how to open a fresh, empty store. The test matrix in `test/support/backends.ts`
 * provides values of this shape.
 */

/** A store opened for one suite, with the cleanup that closes it and deletes what it held. */
export interface OpenedStore<T> {
  readonly store: T;
  /** Closes the store and deletes everything it held. */
  cleanup(): Promise<void>;
}

/** One backend of a port; `skip` carries the reason when it cannot run on this machine. */
export interface Backend<T> {
  readonly name: string;
  readonly skip?: string;
  /** Opens a fresh, empty store (migrated, for metadata stores). */
  open(): Promise<OpenedStore<T>>;
}
