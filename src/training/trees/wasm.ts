/**
 * The gradient-histogram loop as WebAssembly, generated per data shape. WebAssembly compiles the
 * unrolled per-feature updates (bin offsets folded into the load/store immediates, no bounds checks)
 * to about half the machine instructions of the same loop in JavaScript, and the histogram build is
 * most of a fit's time. The module imports one shared memory that holds the arrays it reads and writes,
 * so the main thread and the worker run the same code on the same data.
 *
 * The sums are the same double additions in the same order as the JavaScript loop, so both give
 * bit-identical histograms.
 */

/** A histogram loop: `rows`, `grad`, `hess`, `hist` and `rowBinned` are byte offsets in the memory. */
export type WasmHistKernel = (rows: number, start: number, m: number, grad: number, hess: number, hist: number, rowBinned: number) => void;

/**
 * Stable partition of `partition[start, end)` by `goLeft[column[row]]` into `leftRows` and `rightRows`
 * (each from position `start`); returns the number of left rows. Pointers are byte offsets.
 */
export type WasmPartition = (partition: number, start: number, end: number, column: number, goLeft: number, leftRows: number, rightRows: number) => number;

/** The compiled loops of one data shape. */
export interface WasmKernels {
  /** The histogram loop for rows given by index (or contiguous), with or without hessians, for a block of features. */
  readonly kernel: (contiguous: boolean, constHess: boolean, block: number) => WasmHistKernel;
  readonly partition: WasmPartition;
}

/** Shape of the loops: features per row (row stride), doubles per feature histogram, features per block. */
export interface KernelShape {
  readonly nFeatures: number;
  readonly featStride: number;
  readonly block: number;
}

/** Allocates typed arrays in one WebAssembly memory (8-byte aligned), for the histogram loop to address. */
export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  #next = 8;

  /** A shared memory of at least `bytes` bytes; throws when the engine refuses it (e.g. over 4 GiB). */
  constructor(bytes: number) {
    const pages = Math.ceil((bytes + 64) / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  }

  /** A zeroed typed array of `length` elements in the memory. */
  allocate<T>(ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number }, length: number): T {
    const offset = this.#next;
    this.#next = offset + Math.ceil((length * ctor.BYTES_PER_ELEMENT) / 8) * 8;
    if (this.#next > this.memory.buffer.byteLength) throw new Error('wasm heap: out of memory');
    return new ctor(this.memory.buffer, offset, length);
  }
}

/** Bytes {@link WasmHeap} needs for arrays of these byte sizes (each rounded up to 8). */
export function heapBytes(sizes: readonly number[]): number {
  return 8 + sizes.reduce((s, b) => s + Math.ceil(b / 8) * 8, 0);
}

/** Compiles the histogram loops of `shape` against `memory`. */
export function compileKernels(memory: WebAssembly.Memory, shape: KernelShape): WasmKernels {
  const blocks = Math.ceil(shape.nFeatures / shape.block);
  const bodies: number[][] = [];
  for (const contiguous of [false, true]) {
    for (const constHess of [false, true]) {
      for (let b = 0; b < blocks; b++) {
        const fa = b * shape.block;
        const fb = Math.min(shape.nFeatures, fa + shape.block);
        bodies.push(histBody(contiguous, constHess, shape.nFeatures, shape.featStride, fa, fb));
      }
    }
  }
  const pages = memory.buffer.byteLength / 65536;
  const bytes = moduleBytes(bodies, partitionBody(), pages);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const exports = instance.exports as Record<string, WasmHistKernel> & { partition: WasmPartition };
  return {
    kernel: (contiguous, constHess, block) => exports[`k${((contiguous ? 2 : 0) + (constHess ? 1 : 0)) * blocks + block}`],
    partition: exports.partition,
  };
}

/** Body of {@link WasmPartition}: branch-free, both outputs written every row. */
function partitionBody(): number[] {
  // params: 0 partition, 1 start, 2 end, 3 column, 4 goLeft, 5 leftRows, 6 rightRows; locals: 7 j, 8 l, 9 r, 10 row, 11 left
  const c: number[] = [];
  const get = (l: number) => c.push(op.localGet, l);
  const set = (l: number) => c.push(op.localSet, l);
  get(1);
  c.push(op.localTee, 7, op.localTee, 8);
  set(9);
  c.push(op.block, 0x40);
  get(7);
  get(2);
  c.push(op.i32GeU, op.brIf, 0);
  c.push(op.loop, 0x40);
  // row = partition[j]; left = goLeft[column[row]]
  get(7);
  c.push(op.i32Const, 2, op.i32Shl);
  get(0);
  c.push(op.i32Add, op.i32Load, 2, 0);
  c.push(op.localTee, 10);
  get(3);
  c.push(op.i32Add, op.i32Load8u, 0, 0);
  get(4);
  c.push(op.i32Add, op.i32Load8u, 0, 0);
  set(11);
  // leftRows[l] = row; rightRows[r] = row
  get(8);
  c.push(op.i32Const, 2, op.i32Shl);
  get(5);
  c.push(op.i32Add);
  get(10);
  c.push(op.i32Store, 2, 0);
  get(9);
  c.push(op.i32Const, 2, op.i32Shl);
  get(6);
  c.push(op.i32Add);
  get(10);
  c.push(op.i32Store, 2, 0);
  // l += left; r += left ^ 1
  get(8);
  get(11);
  c.push(op.i32Add);
  set(8);
  get(9);
  get(11);
  c.push(op.i32Const, 1, op.i32Xor, op.i32Add);
  set(9);
  // j += 1, continue while j < end
  get(7);
  c.push(op.i32Const, 1, op.i32Add, op.localTee, 7);
  get(2);
  c.push(op.i32LtU, op.brIf, 0);
  c.push(op.end, op.end);
  get(8);
  get(1);
  c.push(op.i32Sub, op.end);
  return [1, 5, 0x7f, ...c];
}

// Locals: params 0..6 (rows, start, m, grad, hess, hist, rowBinned), then j, i, r, p (i32) and g, h (f64).
const ROWS = 0;
const START = 1;
const M = 2;
const GRAD = 3;
const HESS = 4;
const HIST = 5;
const ROW_BINNED = 6;
const J = 7;
const I = 8;
const R = 9;
const P = 10;
const G = 11;
const H = 12;

/** Rows ahead whose data a histogram loop over indexed rows touches early. */
const PREFETCH = 4;

const op = {
  drop: 0x1a,
  select: 0x1b,
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  f64Load: 0x2b,
  i32Load8u: 0x2d,
  f64Store: 0x39,
  i32Store: 0x36,
  i32Const: 0x41,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32Xor: 0x73,
  i32Shl: 0x74,
  f64Add: 0xa0,
  f64PromoteF32: 0xbb,
} as const;

/** The body (locals + code) of the loop over rows for features [fa, fb). */
function histBody(contiguous: boolean, constHess: boolean, stride: number, featStride: number, fa: number, fb: number): number[] {
  const c: number[] = [];
  const get = (l: number) => c.push(op.localGet, l);
  const set = (l: number) => c.push(op.localSet, l);
  const i32 = (v: number) => c.push(op.i32Const, ...sleb(v));
  // if (m === 0) return
  c.push(op.block, 0x40);
  get(M);
  c.push(op.i32Eqz, op.brIf, 0);
  c.push(op.loop, 0x40);
  // i = contiguous ? start + j : rows[start + j]
  get(START);
  get(J);
  c.push(op.i32Add);
  if (!contiguous) {
    i32(2);
    c.push(op.i32Shl);
    get(ROWS);
    c.push(op.i32Add, op.i32Load, 2, 0);
  }
  set(I);
  if (!contiguous && PREFETCH > 0) {
    // Touch the row PREFETCH rows ahead (clamped to the node) so that its cache line is on its way.
    get(START);
    get(J);
    i32(PREFETCH);
    c.push(op.i32Add);
    get(M);
    i32(1);
    c.push(op.i32Sub);
    get(J);
    i32(PREFETCH);
    c.push(op.i32Add);
    get(M);
    c.push(op.i32LtU, op.select);
    c.push(op.i32Add);
    i32(2);
    c.push(op.i32Shl);
    get(ROWS);
    c.push(op.i32Add, op.i32Load, 2, 0);
    c.push(op.localTee, P);
    i32(stride);
    c.push(op.i32Mul);
    get(ROW_BINNED);
    c.push(op.i32Add, op.i32Load8u, 0, 0, op.drop);
    get(P);
    i32(2);
    c.push(op.i32Shl);
    get(GRAD);
    c.push(op.i32Add, op.f32Load, 2, 0, op.drop);
  }
  // g = grad[i], h = hess[i], r = rowBinned + i * stride
  get(I);
  i32(2);
  c.push(op.i32Shl);
  get(GRAD);
  c.push(op.i32Add, op.f32Load, 2, 0, op.f64PromoteF32);
  set(G);
  if (!constHess) {
    get(I);
    i32(2);
    c.push(op.i32Shl);
    get(HESS);
    c.push(op.i32Add, op.f32Load, 2, 0, op.f64PromoteF32);
    set(H);
  }
  get(I);
  i32(stride);
  c.push(op.i32Mul);
  get(ROW_BINNED);
  c.push(op.i32Add);
  set(R);
  for (let f = fa; f < fb; f++) {
    const base = (f - fa) * featStride * 8;
    // p = hist + rowBinned[r + f] * 24
    get(R);
    c.push(op.i32Load8u, 0, ...uleb(f));
    i32(24);
    c.push(op.i32Mul);
    get(HIST);
    c.push(op.i32Add);
    c.push(op.localTee, P);
    get(P);
    c.push(op.f64Load, 3, ...uleb(base));
    get(G);
    c.push(op.f64Add, op.f64Store, 3, ...uleb(base));
    if (!constHess) {
      get(P);
      get(P);
      c.push(op.f64Load, 3, ...uleb(base + 8));
      get(H);
      c.push(op.f64Add, op.f64Store, 3, ...uleb(base + 8));
    }
    get(P);
    get(P);
    c.push(op.f64Load, 3, ...uleb(base + 16));
    c.push(op.f64Const, ...f64Bytes(1));
    c.push(op.f64Add, op.f64Store, 3, ...uleb(base + 16));
  }
  // j += 1; continue while j < m
  get(J);
  i32(1);
  c.push(op.i32Add);
  c.push(op.localTee, J);
  get(M);
  c.push(op.i32LtU, op.brIf, 0);
  c.push(op.end, op.end, op.end);
  // locals: 4 × i32, 2 × f64
  return [2, 4, 0x7f, 2, 0x7c, ...c];
}

function moduleBytes(bodies: number[][], partition: number[], pages: number): Uint8Array<ArrayBuffer> {
  const section = (id: number, payload: number[]) => [id, ...uleb(payload.length), ...payload];
  const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  const name = (s: string) => [...uleb(s.length), ...Array.from(new TextEncoder().encode(s))];
  const i32x7 = [7, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f];
  const types = [
    [0x60, ...i32x7, 0],
    [0x60, ...i32x7, 1, 0x7f],
  ];
  // Imported memory: shared, with the exact size of the heap (limits flag 3: min and max, shared).
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(pages), ...uleb(pages)];
  const all = [...bodies, partition];
  const exports = [...bodies.map((_, i) => [...name(`k${i}`), 0x00, ...uleb(i)]), [...name('partition'), 0x00, ...uleb(bodies.length)]];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec([...bodies.map(() => [0]), [1]])),
    ...section(7, vec(exports)),
    ...section(10, vec(all.map((b) => [...uleb(b.length), ...b]))),
  ];
  return new Uint8Array(bytes);
}

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function f64Bytes(value: number): number[] {
  return Array.from(new Uint8Array(Float64Array.of(value).buffer));
}
