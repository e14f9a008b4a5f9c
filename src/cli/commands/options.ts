/** Option parsers shared by CLI commands. */
import { InvalidArgumentError } from 'commander';

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
