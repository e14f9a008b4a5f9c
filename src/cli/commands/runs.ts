/** `mloop runs` commands. */
import type { Command } from 'commander';

/** Registers `mloop runs ...`. */
export function registerRunCommands(program: Command): void {
  program.command('runs').description('runs (to be filled)');
}
