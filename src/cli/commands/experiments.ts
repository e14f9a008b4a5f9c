/** `mloop experiments list|create|get`. */
import type { Command } from 'commander';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { listOptionsOf, nextPageHint, parseTags, withListOptions, type ClientOptions, type ListCommandOptions } from './options.ts';

/** Registers `mloop experiments ...`. */
export function registerExperimentCommands(program: Command): void {
  const experiments = program.command('experiments').description('experiments of the tracking server');

  withListOptions(withClientOptions(experiments.command('list')).description('list experiments'), {
    filter: "name LIKE 'churn%'",
    orderBy: 'name ASC',
    deleted: 'experiments',
  }).action(async (options: ClientOptions & ListCommandOptions) => {
    const page = await clientOf(options).listExperiments(listOptionsOf(options));
    print(page, options, (p) => {
      const rows = p.experiments.map((e) => ({ id: e.experiment_id, name: e.name, stage: e.lifecycle_stage, artifact_location: e.artifact_location }));
      return table(rows, ['id', 'name', 'stage', 'artifact_location']) + nextPageHint(p.next_page_token);
    });
  });

  withClientOptions(experiments.command('create'))
    .description('create an experiment')
    .argument('<name>', 'experiment name')
    .option('--artifact-location <uri>', 'where its runs store artifacts')
    .option('--tag <key=value...>', 'tags')
    .action(async (name: string, options: ClientOptions & { artifactLocation?: string; tag?: string[] }) => {
      const experiment = await clientOf(options).createExperiment({
        name,
        artifact_location: options.artifactLocation,
        tags: parseTags(options.tag),
      });
      print(experiment, options, (e) => `created experiment ${e.experiment_id} (${e.name})`);
    });

  withClientOptions(experiments.command('get'))
    .description('show one experiment')
    .argument('<id>', 'experiment id')
    .action(async (id: string, options: ClientOptions) => {
      const experiment = await clientOf(options).getExperiment(id);
      print(experiment, options, (e) =>
        keyValues({
          id: e.experiment_id,
          name: e.name,
          stage: e.lifecycle_stage,
          artifact_location: e.artifact_location,
          created: new Date(e.creation_time).toISOString(),
          tags: Object.fromEntries(e.tags.map((t) => [t.key, t.value])),
        }),
      );
    });
}
