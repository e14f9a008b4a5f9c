#!/usr/bin/env node
// Serves an S3-compatible endpoint on loopback for the S3 contract tests: node scripts/s3rver.mjs PORT DIR
import S3rver from 's3rver';

const [port = '54569', directory = '/tmp/mloop-s3'] = process.argv.slice(2);
const server = new S3rver({ port: Number(port), address: '127.0.0.1', directory, silent: true, resetOnClose: false });
await server.run();
console.log(`s3rver listening on 127.0.0.1:${port}, data in ${directory}`);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
