/** `mloop models list|get|versions|alias`. */
import type { Command } from 'commander';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { listOptionsOf, nextPageHint, withListOptions, type ClientOptions, type ListCommandOptions } from './options.ts';

type Row = Record<string, unknown>;

/** Registers `mloop models ...`. */
export function registerModelCommands(program: Command): void {
  const models = program.command('models').description('registered models and their versions');

  withListOptions(withClientOptions(models.command('list')).description('list registered models'), {
    filter: "name LIKE 'churn%'",
    orderBy: 'last_updated_timestamp DESC',
  }).action(async (options: ClientOptions & ListCommandOptions) => {
    const page = await clientOf(options).listModels(listOptionsOf(options));
    print(page, options, (p) => {
      const rows = p.models.map((m) => ({
        name: m.name,
        latest: ((m.latest_versions as Row[] | undefined) ?? []).map((v) => v.version).join(','),
        aliases: ((m.aliases as Row[] | undefined) ?? []).map((a) => `${a.alias}->${a.version}`).join(' '),
        description: m.description,
      }));
      return table(rows, ['name', 'latest', 'aliases', 'description']) + nextPageHint(p.next_page_token);
    });
  });

  withClientOptions(models.command('get'))
    .description('show a registered model and its versions')
    .argument('<name>', 'model name')
    .action(async (name: string, options: ClientOptions) => {
      const client = clientOf(options);
      const model = await client.getModel(name);
      const { versions } = await client.listModelVersions(name);
      print({ ...model, versions } as Row, options, (m) => {
        const head = keyValues({
          name: m.name,
          description: m.description,
          aliases: ((m.aliases as Row[] | undefined) ?? []).map((a) => `${a.alias}->${a.version}`).join(' '),
        });
        const rows = versions.map((v) => ({ version: v.version, stage: v.current_stage, status: v.status, run_id: v.run_id, source: v.source }));
        return `${head}\n\nVERSIONS\n${table(rows, ['version', 'stage', 'status', 'run_id', 'source'])}`;
      });
    });

  const alias = models.command('alias').description('aliases that point at model versions (champion, challenger, ...)');

  withClientOptions(alias.command('set'))
    .description('point an alias at a version')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias')
    .argument('<version>', 'version number')
    .action(async (name: string, aliasName: string, version: string, options: ClientOptions) => {
      const mv = await clientOf(options).setAlias(name, aliasName, version);
      print(mv, options, () => `${name}@${aliasName} -> version ${version}`);
    });

  withClientOptions(alias.command('get'))
    .description('show the version an alias points at')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias')
    .action(async (name: string, aliasName: string, options: ClientOptions) => {
      const mv = await clientOf(options).getAlias(name, aliasName);
      print(mv, options, (v) => keyValues({ model: v.name, alias: aliasName, version: v.version, run_id: v.run_id, source: v.source }));
    });

  withClientOptions(alias.command('delete'))
    .description('remove an alias')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias')
    .action(async (name: string, aliasName: string, options: ClientOptions) => {
      await clientOf(options).deleteAlias(name, aliasName);
      print({ deleted: true, model: name, alias: aliasName }, options, () => `removed ${name}@${aliasName}`);
    });
}
