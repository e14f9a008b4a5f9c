/** `mloop experiments` commands. */
import type { Command } from 'commander';

/** Registers `mloop experiments ...`. */
export function registerExperimentCommands(program: Command): void {
  program.command('experiments').description('experiments (to be filled)');
}
