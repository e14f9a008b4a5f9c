/** What every CLI command gets: the client for `--url` and the output options. */
import type { Command } from 'commander';
import { MloopApi } from '../sdk/client.ts';

/** Default server URL when neither `--url` nor `MLOOP_URL` is given. */
export const DEFAULT_URL = 'http://127.0.0.1:7070';

/** Adds the options shared by commands that talk to a server. */
export function withClientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'mloop server URL (env MLOOP_URL)', process.env.MLOOP_URL ?? DEFAULT_URL)
    .option('--project <name>', 'project to act in (env MLOOP_PROJECT)', process.env.MLOOP_PROJECT)
    .option('--json', 'print JSON');
}

/** The client for a command's `--url` and `--project`. */
export function clientOf(options: { url: string; project?: string }): MloopApi {
  return new MloopApi({ url: options.url, project: options.project });
}
