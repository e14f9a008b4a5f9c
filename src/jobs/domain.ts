/**
 * Background jobs: long work (training, tuning, evaluation) accepted by a request, run later by a
 * worker, and watched through its persisted status and progress.
 */

/** Where a job is in its life. QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED. */
export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;

/** A job status. */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses a job never leaves. */
export const FINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** Why a job failed, as the API shows it. */
export interface JobError {
  /** An error code of the catalogue (`INVALID_PARAMETER_VALUE`, `INTERNAL_ERROR`, `INTERRUPTED`...). */
  readonly code: string;
  readonly message: string;
  readonly fields?: readonly { readonly field: string; readonly reason: string }[];
}

/** A job as the API returns it. */
export interface Job {
  readonly id: string;
  readonly project: string;
  /** What the job does (`training`, `tuning`, `evaluation`). */
  readonly kind: string;
  readonly status: JobStatus;
  /** Fraction done, 0..1. */
  readonly progress: number;
  /** What the job is doing now (or did last). */
  readonly message?: string;
  /** The validated request the job runs. */
  readonly spec: unknown;
  /** What a SUCCEEDED job produced. */
  readonly result?: unknown;
  /** Why a FAILED or CANCELLED job stopped. */
  readonly error?: JobError;
  readonly created_at: number;
  readonly created_by: string;
  readonly started_at?: number;
  readonly finished_at?: number;
  /** The worker that runs or ran it. */
  readonly worker?: string;
  readonly cancel_requested: boolean;
}

/** True when `status` is final. */
export function isFinal(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}
