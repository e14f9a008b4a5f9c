/** `mloop models` commands. */
import type { Command } from 'commander';

/** Registers `mloop models ...`. */
export function registerModelCommands(program: Command): void {
  program.command('models').description('models (to be filled)');
}
