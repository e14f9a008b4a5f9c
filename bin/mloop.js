#!/usr/bin/env node
// The `mloop` command. TypeScript sources run through tsx, so there is no build step after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
