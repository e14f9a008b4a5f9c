/** The `mloop` command line. */
import { Command, CommanderError } from 'commander';
import { MloopError } from '../core/errors.ts';
import { MloopClientError } from '../sdk/client.ts';
import { registerDataCommands } from './commands/data.ts';
import { registerExperimentCommands } from './commands/experiments.ts';
import { registerFeatureCommands } from './commands/features.ts';
import { registerModelCommands } from './commands/models.ts';
import { registerRunCommands } from './commands/runs.ts';
import { registerServerCommand } from './commands/server.ts';
import { registerTrainingCommands } from './commands/training.ts';

/** Builds the command tree (exported for tests and `--help` checks). */
export function buildProgram(): Command {
  const program = new Command('mloop')
    .description('mloop: data, features, training, registry, serving and monitoring in one loop')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerServerCommand(program);
  registerExperimentCommands(program);
  registerRunCommands(program);
  registerModelCommands(program);
  registerDataCommands(program);
  registerFeatureCommands(program);
  registerTrainingCommands(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI with `argv` (as in `process.argv`); sets the exit code on failure. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error, argv.includes('--json'));
  }
}

function reportError(error: unknown, json: boolean): number {
  if (error instanceof CommanderError) {
    // Help and version are "errors" only to commander.
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help'
      ? 0
      : 2;
  }
  let code = 'ERROR';
  let message = String(error);
  let fields: readonly { field: string; reason: string }[] = [];
  if (error instanceof MloopClientError || error instanceof MloopError) {
    code = error.code;
    message = error.message;
    fields = error.fields;
  } else if (error instanceof Error) {
    message = error.message;
  }
  if (json) process.stderr.write(`${JSON.stringify({ error: { code, message, fields } })}\n`);
  else process.stderr.write(`mloop: ${message}\n`);
  return error instanceof MloopError && error.code === 'INVALID_PARAMETER_VALUE' ? 2 : 1;
}
