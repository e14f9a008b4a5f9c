/** `mloop jobs list|get|wait|cancel`: background jobs of any kind (training, tuning, evaluation). */
import type { Command } from 'commander';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { waitWithProgress } from './job-support.ts';
import { parseIntOption, type ClientOptions } from './options.ts';

/** Registers `jobs list|get|wait|cancel`. */
export function registerJobCommands(program: Command): void {
  const jobs = program.command('jobs').description('background jobs (training, tuning, evaluation)');
  withClientOptions(jobs.command('list'))
    .description('list jobs, newest first')
    .option('--kind <kind>', 'training, tuning or evaluation')
    .option('--status <status>', 'QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED')
    .option('--max-results <n>', 'page size', parseIntOption('--max-results'))
    .action(async (options: ClientOptions & { kind?: string; status?: string; maxResults?: number }) => {
      const page = await clientOf(options).listJobs({ kind: options.kind, status: options.status, maxResults: options.maxResults });
      print(page, options, (p) =>
        table(
          p.jobs.map((j) => ({ id: j.id, kind: j.kind, status: j.status, progress: `${Math.round(j.progress * 100)}%`, message: j.error?.message ?? j.message, created: new Date(j.created_at).toISOString() })),
          ['id', 'kind', 'status', 'progress', 'message', 'created'],
        ),
      );
    });
  withClientOptions(jobs.command('get'))
    .description('show a job')
    .argument('<id>', 'job id')
    .action(async (id: string, options: ClientOptions) => {
      const job = await clientOf(options).getJob(id);
      print(job, options, (j) => keyValues({ id: j.id, kind: j.kind, status: j.status, progress: `${Math.round(j.progress * 100)}%`, message: j.message, error: j.error?.message, result: j.result }));
    });
  withClientOptions(jobs.command('wait'))
    .description('wait for a job with progress; exits non-zero unless it succeeds')
    .argument('<id>', 'job id')
    .action(async (id: string, options: ClientOptions) => {
      const client = clientOf(options);
      const job = await client.getJob(id);
      const done = await waitWithProgress(client, job, `${job.kind} job ${id}`, options.json);
      print(done, options, (j) => keyValues({ id: j.id, status: j.status, result: j.result }));
    });
  withClientOptions(jobs.command('cancel'))
    .description('cancel a queued or running job')
    .argument('<id>', 'job id')
    .action(async (id: string, options: ClientOptions) => {
      const job = await clientOf(options).cancelJob(id);
      print(job, options, (j) => `job ${j.id}: ${j.status}${j.cancel_requested && j.status === 'RUNNING' ? ' (stopping)' : ''}`);
    });
}
