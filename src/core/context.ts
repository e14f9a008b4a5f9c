/**
 * Who is doing what. Every service method that changes state takes a {@link RequestContext}, so that
 * access control and the audit log attach to one place.
 */

/** The project every resource belongs to unless another is named. */
export const DEFAULT_PROJECT = 'default';

/** The principal behind a request. */
export interface Actor {
  /** User or service-account name; `anonymous` when auth is off and nobody is named. */
  readonly name: string;
}

/** What a service needs to know about the caller. */
export interface RequestContext {
  readonly actor: Actor;
  /** The project (namespace) the request acts in. */
  readonly project: string;
  /** Correlates logs, audit entries and responses. */
  readonly requestId: string;
}

/** A context for work the system does on its own behalf (migrations, schedules, tests). */
export function systemContext(requestId = 'system', project = DEFAULT_PROJECT): RequestContext {
  return { actor: { name: 'system' }, project, requestId };
}
