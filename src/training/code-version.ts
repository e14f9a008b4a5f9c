/**
 * The code version recorded on runs and model versions: the package version and, when the code runs
 * from a git checkout, the commit (`0.1.0+git.3f9c2e1d4b5a`). `MLOOP_CODE_VERSION` overrides it
 * (images built without `.git` set it at build time).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The code version of this process (computed once). */
export function codeVersion(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MLOOP_CODE_VERSION) return env.MLOOP_CODE_VERSION;
  if (cached !== undefined) return cached;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  let version = '0.0.0';
  try {
    version = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // not packaged with its package.json; keep the placeholder
  }
  let commit: string | undefined;
  try {
    const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 2000 });
    if (git.status === 0 && /^[0-9a-f]{40}$/.test(git.stdout.trim())) commit = git.stdout.trim().slice(0, 12);
  } catch {
    // no git here
  }
  cached = commit ? `${version}+git.${commit}` : version;
  return cached;
}
