/**
 * `onnx.checker.check_model` from Debian's python3-onnx, as an independent oracle that an exported
 * file is a valid ONNX model. Used by tests; resolves `skipped: ...` when python3-onnx is absent.
 */
import { spawn } from 'node:child_process';

const SCRIPT = [
  'import sys, onnx',
  'data = sys.stdin.buffer.read()',
  'model = onnx.load_from_string(data)',
  'onnx.checker.check_model(model, full_check=True)',
  'print("ok")',
].join('\n');

/** Runs the ONNX checker on `bytes`: resolves `ok`, or rejects with the checker's message. */
export function checkOnnxModel(bytes: Uint8Array, python = '/usr/bin/python3'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim());
      else if (/No module named 'onnx'/.test(err)) resolve('skipped: python3-onnx is not installed');
      else reject(new Error(`onnx.checker rejected the model: ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
    child.stdin.end(Buffer.from(bytes));
  });
}
