/** `mloop runs list|get`. */
import type { Command } from 'commander';
import type { Run } from '../../tracking/domain.ts';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { listOptionsOf, nextPageHint, withListOptions, type ClientOptions, type ListCommandOptions } from './options.ts';

/** Registers `mloop runs ...`. */
export function registerRunCommands(program: Command): void {
  const runs = program.command('runs').description('runs of the tracking server');

  withListOptions(
    withClientOptions(runs.command('list')).description('search runs of one or more experiments').option('-e, --experiment <id...>', 'experiment ids', ['0']),
    { filter: "metrics.rmse < 0.5 AND params.model = 'gbt'", orderBy: 'metrics.rmse ASC', deleted: 'runs' },
  ).action(async (options: ClientOptions & ListCommandOptions & { experiment: string[] }) => {
    const page = await clientOf(options).listRuns(options.experiment, listOptionsOf(options));
    print(page, options, (p) => {
      const rows = p.runs.map((r) => ({
        run_id: r.info.run_id,
        name: r.info.run_name,
        status: r.info.status,
        started: new Date(r.info.start_time).toISOString(),
        metrics: r.data.metrics.map((m) => `${m.key}=${formatNumber(m.value)}`).join(' '),
      }));
      return table(rows, ['run_id', 'name', 'status', 'started', 'metrics']) + nextPageHint(p.next_page_token);
    });
  });

  withClientOptions(runs.command('get'))
    .description('show one run: info, params, latest metrics, tags, inputs')
    .argument('<run-id>', 'run id')
    .action(async (runId: string, options: ClientOptions) => {
      const run = await clientOf(options).getRun(runId);
      print(run, options, renderRun);
    });
}

function renderRun(run: Run): string {
  const info = keyValues({
    run_id: run.info.run_id,
    name: run.info.run_name,
    experiment: run.info.experiment_id,
    status: run.info.status,
    stage: run.info.lifecycle_stage,
    started: new Date(run.info.start_time).toISOString(),
    ended: run.info.end_time ? new Date(run.info.end_time).toISOString() : '',
    artifact_uri: run.info.artifact_uri,
  });
  const params = table(run.data.params, ['key', 'value']);
  const metrics = table(
    run.data.metrics.map((m) => ({ ...m, value: formatNumber(m.value) })),
    ['key', 'value', 'step', 'timestamp'],
  );
  const tags = table(run.data.tags.filter((t) => !t.key.startsWith('mlflow.')), ['key', 'value']);
  return `${info}\n\nPARAMS\n${params}\n\nMETRICS\n${metrics}\n\nTAGS\n${tags}`;
}

function formatNumber(value: number | string): string {
  return typeof value === 'number' && Number.isFinite(value) ? String(Number(value.toPrecision(6))) : String(value);
}
