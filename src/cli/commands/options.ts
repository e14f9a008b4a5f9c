/** Option parsers and option sets shared by CLI commands. */
import { InvalidArgumentError, type Command } from 'commander';
import type { ListOptions } from '../../sdk/client.ts';

/** Options every client command has (see `withClientOptions`). */
export interface ClientOptions {
  url: string;
  project?: string;
  json?: boolean;
}

/** A commander parser for a positive integer option. */
export function parseIntOption(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} expects a positive integer, got "${value}"`);
    return Number(value);
  };
}

/** Turns `key=value` strings into a record; throws naming the bad one. */
export function parseTags(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`--tag expects key=value, got "${pair}"`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** The search and paging options of a `list` command (see {@link withListOptions}). */
export interface ListCommandOptions {
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
  all?: boolean;
}

/**
 * Adds MLflow's search options to a `list` command: `--filter` and `--max-results`, `--page-token`;
 * `--order-by` when `examples.orderBy` is given, `--all` (deleted ones too) when `examples.deleted` is.
 */
export function withListOptions(command: Command, examples: { filter: string; orderBy?: string; deleted?: string }): Command {
  command.option('--filter <expr>', `MLflow filter, e.g. ${JSON.stringify(examples.filter)}`);
  if (examples.orderBy) command.option('--order-by <clause...>', `e.g. ${JSON.stringify(examples.orderBy)}`);
  command.option('--max-results <n>', 'page size', parseIntOption('--max-results')).option('--page-token <token>', 'token of the page to fetch');
  if (examples.deleted) command.option('--all', `include deleted ${examples.deleted}`);
  return command;
}

/** The client's list options for a command's {@link ListCommandOptions}. */
export function listOptionsOf(options: ListCommandOptions): ListOptions {
  return {
    filter: options.filter,
    orderBy: options.orderBy,
    maxResults: options.maxResults,
    pageToken: options.pageToken,
    viewType: options.all ? 'ALL' : undefined,
  };
}

/** The line printed under a table when there is a next page (nothing otherwise). */
export function nextPageHint(token: string | undefined): string {
  return token ? `\nnext page: --page-token ${token}` : '';
}
