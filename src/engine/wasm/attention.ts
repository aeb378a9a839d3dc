/**
 * The WebAssembly engine: the fused single-layer attention kernel of engine/ts/attention.ts compiled
 * from asm/attention.ts (AssemblyScript, f64x2 SIMD, heads processed in pairs). Same signatures as
 * engine/ts/attention.ts (`forward`, `lossAndGrad`), same float64 algebra; results agree with the
 * TypeScript kernel to ~1e-15 relative (not bit for bit: the summation order of the softmax differs),
 * so a training run is bit-reproducible within one engine only.
 *
 * No node:* imports: the caller passes the module bytes (src/io/wasm.ts reads dist/wasm/attention.wasm).
 * Each kernel is one wasm instance with its own memory. Arrays outside that memory are copied in
 * (theta, the batch) and out (grad, out, attn) per call; a batch from `kernel.allocBatch()` lives in
 * wasm memory already, so sampling into it skips the batch copy (the training step's fast path).
 */
import { UsageError } from '../../errors.js';
import type { Batch } from '../../data/batch.js';
import type { AttentionParams } from '../../model/params.js';
import type { Rng } from '../../data/rng.js';
import type { StackParams } from '../../model/stack.js';
import { refuseLinear } from '../ts/head-circuits.js';
import { fillNormalWasm, ZF, ZK, ZWS, type ZigguratHost } from './sampler.js';
import { F as F2, KR as KR2, taskScales, X0 as X02, XS as XS2, type NormalStream2 } from '../../data/normal2.js';
import { sampleBatch as sampleBatchTs, validateTaskSpec, type TaskSpec } from '../../data/task.js';

/** The part of the WebAssembly JS API used here (typed locally: the project's lib is ES2022, without DOM). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
/** A compiled module (opaque). */
export interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: (new (bytes: Uint8Array) => WasmModule) & { imports(m: WasmModule): { module: string; name: string; kind: string }[] };
  Instance: new (m: WasmModule, imports: object) => { exports: object };
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
function wasmApi(): WasmApi {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) throw new Error('WebAssembly is not available in this runtime');
  return api;
}

/** The wasm module's exports (asm/attention.ts). */
interface AttentionExports {
  memory: WasmMemory;
  heapBase(): number;
  scratchBytes(H: number, E: number, L: number): number;
  forward(B: number, L: number, E: number, H: number, z: number, zq: number, theta: number, out: number, attn: number, scr: number): void;
  lossAndGrad(B: number, L: number, E: number, H: number, z: number, zq: number, yq: number, theta: number, grad: number, out: number, scr: number): number;
  zigguratRun(st: number, out: number, j: number, end: number, zk: number, zws: number, zf: number): number;
  setSampler2Tables(xs: number, kr: number, f: number, x0: number): void;
  sampleBatch2(st: number, z: number, zq: number, yq: number, beta: number, B: number, L: number, d: number, sigmaCtx: number, betaScale: number, sigmaQ: number, rho: number, c: number): void;
  stackScratchBytes(E: number, H: number, nLayers: number, nBlocks: number, T: number): number;
  stackForward(B: number, L: number, E: number, H: number, nLayers: number, tying: number, z: number, zq: number, theta: number, out: number, ws: number): void;
  stackLossAndGrad(B: number, L: number, E: number, H: number, nLayers: number, tying: number, z: number, zq: number, yq: number, theta: number, grad: number, out: number, ws: number): number;
}

/** Where a kernel lives (createWasmKernel). */
export interface KernelOptions {
  /** Run in this memory (a module that imports its memory, built shared: attention-shared.wasm). */
  memory?: WasmMemory;
  /** Use only the bytes [base, limit) of the memory (a kernel inside a region another kernel reserved; it never grows the memory). */
  base?: number;
  limit?: number;
}

/** Pages of a shared kernel memory at most (1 GiB; the shared build declares the same maximum). */
export const SHARED_MAX_PAGES = 16384;

export interface WasmKernel {
  readonly engine: 'wasm';
  /** The module and memory (a shared memory when the module imports it: another thread can run a kernel in it, see run/prefetch.ts). */
  readonly module: WasmModule;
  readonly memory: WasmMemory;
  readonly shared: boolean;
  /** A region of `bytes` bytes that stays this caller's (16-byte aligned start); like allocBatch's regions it survives growth. */
  reserve(bytes: number): number;
  /** The instance's raw exports (kernels driven from other files: engine/wasm/multitask.ts). */
  readonly exports: object;
  /** A region of `bytes` bytes after the pinned ones (16-byte aligned start), for one call's arrays: the next call may reuse it. */
  callRegion(bytes: number): number;
  /** Run `draw` with an Rng whose fillNormal is the wasm ziggurat (the same normals and `rng` state afterwards, bit for bit); at most `maxNormals` per fillNormal call. */
  withFastNormals<T>(rng: Rng, maxNormals: number, draw: (fast: Rng) => T): T;
  /** output [B] (and softmax weights [B, H, L] if `attn` is given), as engine/ts/attention.ts forward. */
  forward(p: AttentionParams, batch: Batch, out: Float64Array, attn?: Float64Array): void;
  /** MSE loss; overwrites grad (theta-length) and, if given, out [B], as engine/ts/attention.ts lossAndGrad. */
  lossAndGrad(p: AttentionParams, batch: Batch, grad: Float64Array, out?: Float64Array): number;
  /**
   * A batch whose z, zq, yq live in this kernel's memory (no copy per call). A call that grows the
   * memory replaces the batch's arrays with new views of the same data: read `batch.z` again after a
   * kernel call rather than keeping an old reference. `outputs` targets per prompt (yq [B, outputs]; default 1).
   */
  allocBatch(B: number, L: number, d: number, outputs?: number): Batch;
  /**
   * data/task.ts `sampleBatch` with the ziggurat's fast path in wasm (engine/wasm/sampler.ts): the
   * same batch, bit for bit, and the same `rng` state afterwards as `sampleBatch(spec, rng, out, betaOut)`.
   * Fastest with `out` from `allocBatch` (the normals are written in place).
   */
  sampleBatch(spec: TaskSpec, rng: Rng, out?: Batch, betaOut?: Float64Array): Batch;
  /**
   * Stream version 2 (asm/sampler2.ts): data/normal2.ts `sampleBatch2` bit for bit, the same batch
   * and the same `stream` state afterwards; x, beta and noise in one pass. Fastest with `out` from `allocBatch`.
   */
  sampleBatch2(spec: TaskSpec, stream: NormalStream2, out?: Batch, betaOut?: Float64Array): Batch;
  /** The strictly-causal stack (asm/stack.ts): engine/ts/stack.ts stackForward (no detail), to ~1e-15 relative. */
  stackForward(p: StackParams, batch: Batch, out: Float64Array): void;
  /** engine/ts/stack.ts stackLossAndGrad in wasm (forward + analytic backward, weight tying), to ~1e-15 relative. */
  stackLossAndGrad(p: StackParams, batch: Batch, grad: Float64Array, out?: Float64Array): number;
}

const PAGE = 65536;
const align = (n: number, a = 16) => Math.ceil(n / a) * a;

/** Compile the module bytes once; `createWasmKernel` instantiates it (cheap) as often as needed. */
export function compileAttentionWasm(bytes: Uint8Array): WasmModule {
  const api = wasmApi();
  if (!api.validate(bytes)) throw new Error('attention.wasm: not a valid WebAssembly module for this runtime (needs SIMD)');
  return new api.Module(bytes);
}

/** A kernel with its own wasm instance and memory. */
export function createWasmKernel(module: WasmModule, opts: KernelOptions = {}): WasmKernel {
  const api = wasmApi();
  const importsMemory = api.Module.imports(module).some((i) => i.kind === 'memory');
  const env: Record<string, unknown> = { abort: () => { throw new Error('attention.wasm: abort'); }, log: Math.log };
  if (importsMemory) env.memory = opts.memory ?? new api.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true });
  else if (opts.memory) throw new Error('createWasmKernel: this module has its own memory (use attention-shared.wasm to run in a given memory)');
  const x = new api.Instance(module, { env }).exports as unknown as AttentionExports;
  const mem = (env.memory as WasmMemory | undefined) ?? x.memory;
  const limit = opts.limit ?? Infinity;
  const pinned: (() => void)[] = []; // re-create the views of allocBatch batches after a grow
  // the sampler at the start of the heap (exp's table 2^(j/32) is the module's own data): RNG state
  // words i32[8], then the ziggurat tables ZK [128], ZWS [256], ZF [129]
  const st = align(opts.base ?? x.heapBase()), zk = align(st + 32), zws = align(zk + 128 * 8), zf = align(zws + 256 * 8);
  ensure(zf + 129 * 8);
  new Float64Array(mem.buffer, zk, 128).set(ZK);
  new Float64Array(mem.buffer, zws, 256).set(ZWS);
  new Float64Array(mem.buffer, zf, 129).set(ZF);
  // stream version 2: state (16 words + a pending candidate), tables XS [512], KR [512] (KR [256]
  // twice, so both are indexed by the 9-bit byte), F [257]
  const st2 = align(zf + 129 * 8), xs2 = align(st2 + 96), kr2 = align(xs2 + 512 * 8), f2 = align(kr2 + 512 * 8);
  ensure(f2 + 257 * 8);
  new Float64Array(mem.buffer, xs2, 512).set(XS2);
  new Float64Array(mem.buffer, kr2, 256).set(KR2);
  new Float64Array(mem.buffer, kr2 + 256 * 8, 256).set(KR2);
  new Float64Array(mem.buffer, f2, 257).set(F2);
  x.setSampler2Tables(xs2, kr2, f2, X02);
  let pinnedEnd = align(f2 + 257 * 8); // end of allocBatch regions; per-call data goes after it
  let heap = new Float64Array(mem.buffer);
  let stView = new Int32Array(mem.buffer, st, 8);
  const fresh = () => {
    if (heap.buffer !== mem.buffer) {
      heap = new Float64Array(mem.buffer);
      stView = new Int32Array(mem.buffer, st, 8);
    }
  };
  const host: ZigguratHost = {
    run: (a, b, c, d, e, f, g) => x.zigguratRun(a, b, c, d, e, f, g),
    state: () => (fresh(), stView),
    offsetOf: (a) => (a.buffer === mem.buffer ? a.byteOffset : -1),
    scratch: (n) => {
      if (pinnedEnd + 8 * n > mem.buffer.byteLength) throw new Error('sampler scratch: memory not reserved');
      return pinnedEnd;
    },
    heap: () => (fresh(), heap),
    st, zk, zws, zf,
  };
  const rngProxy = { fillNormal: (o: Float64Array, a?: number, b?: number) => fillNormalWasm(host, o, a, b) } as unknown as Rng;

  function ensure(bytes: number): void {
    if (bytes > limit) throw new Error(`wasm kernel: needs ${bytes} bytes, its region ends at ${limit}`);
    const have = mem.buffer.byteLength;
    if (bytes > have) {
      try {
        mem.grow(Math.ceil((bytes - have) / PAGE));
      } catch (err) {
        // a WebAssembly memory holds at most 4 GiB (1 GiB shared): a batch too large for it is the
        // flags' fault, said as such (was a raw "WebAssembly.Memory.grow(): Maximum memory size exceeded")
        if (!(err instanceof RangeError)) throw err;
        throw new UsageError(
          `the wasm engine would need ${(bytes / 2 ** 30).toFixed(2)} GiB of WebAssembly memory for one call (a batch of prompts with its attention and work arrays), more than its memory can hold (${(have / 2 ** 30).toFixed(2)} GiB now, at most ${importsMemory ? '1 GiB shared' : '4 GiB'}); ` +
            'lower --batch-size or --val-samples, --context-length, --d or --heads, or train with --engine ts',
        );
      }
      for (const refresh of pinned) refresh();
    }
  }
  function withFastNormals<T>(rng: Rng, maxNormals: number, draw: (fast: Rng) => T): T {
    // reserve the scratch first: growing memory while drawing would replace the batch's views under the caller
    ensure(pinnedEnd + 8 * maxNormals + 64);
    const s = rng.getState();
    const v = host.state();
    for (let i = 0; i < 6; i++) v[i] = s[i]! | 0;
    const r = draw(rngProxy);
    const w = host.state();
    rng.setState([w[0]! >>> 0, w[1]! >>> 0, w[2]! >>> 0, w[3]! >>> 0, w[4]! >>> 0, w[5]!]);
    return r;
  }
  const f64 = (ptr: number, n: number) => new Float64Array(mem.buffer, ptr, n);
  const inMemory = (a: Float64Array) => a.buffer === mem.buffer;

  /** lay out one call's arrays after the pinned region; returns byte offsets */
  function place(p: AttentionParams, batch: Batch, withAttn: boolean) {
    const { B, L, E } = batch;
    const H = p.H;
    if (batch.z.length !== B * L * E || batch.zq.length !== B * E || batch.yq.length !== B)
      throw new RangeError(`batch arrays do not match B=${B}, L=${L}, E=${E}`);
    if (p.E !== E) throw new RangeError(`model token width E=${p.E} (d=${p.d}) does not match the batch's E=${E} (d=${batch.d})`);
    if (p.nOut !== 1) throw new RangeError(`the regression model has n_out = 1, got ${p.nOut}`);
    refuseLinear(p);
    const n = p.theta.length;
    let o = pinnedEnd;
    const at = (bytes: number) => { const r = o; o = align(o + bytes); return r; };
    const theta = at(n * 8), grad = at(n * 8), out = at(B * 8);
    const attn = withAttn ? at(B * H * L * 8) : 0;
    const z = at(B * L * E * 8), zq = at(B * E * 8), yq = at(B * 8);
    const scr = at(x.scratchBytes(H, E, L));
    ensure(o);
    // batch: use it in place when it is in wasm memory (after ensure: views may have been replaced)
    const bz = batch.z, bzq = batch.zq, byq = batch.yq;
    const ptr = (a: Float64Array, fallback: number) => {
      if (inMemory(a)) return a.byteOffset;
      f64(fallback, a.length).set(a);
      return fallback;
    };
    f64(theta, n).set(p.theta);
    return { B, L, E, H, n, theta, grad, out, attn, z: ptr(bz, z), zq: ptr(bzq, zq), yq: ptr(byq, yq), scr };
  }

  /** a stack call's arrays after the pinned region (the batch in place when it lives in wasm memory) */
  function placeStack(p: StackParams, batch: Batch) {
    const { B, L, E } = batch;
    if (batch.E !== p.E) throw new RangeError(`batch token width E=${batch.E} does not match the model's E=${p.E}`);
    if (batch.z.length !== B * L * E || batch.zq.length !== B * E || batch.yq.length !== B) throw new RangeError(`batch arrays do not match B=${B}, L=${L}, E=${E}`);
    const n = p.theta.length;
    let o = pinnedEnd;
    const at = (bytes: number) => { const r = o; o = align(o + bytes); return r; };
    const theta = at(n * 8), grad = at(n * 8), out = at(B * 8);
    const z = at(B * L * E * 8), zq = at(B * E * 8), yq = at(B * 8);
    const ws = at(x.stackScratchBytes(E, p.H, p.nLayers, p.nBlocks, L + 1));
    ensure(o);
    const ptr = (a: Float64Array, fallback: number) => {
      if (inMemory(a)) return a.byteOffset;
      f64(fallback, a.length).set(a);
      return fallback;
    };
    f64(theta, n).set(p.theta);
    return { B, L, E, n, theta, grad, out, ws, z: ptr(batch.z, z), zq: ptr(batch.zq, zq), yq: ptr(batch.yq, yq) };
  }

  return {
    engine: 'wasm',
    module,
    memory: mem,
    shared: importsMemory,
    exports: x,
    callRegion(bytes) {
      ensure(pinnedEnd + bytes);
      return pinnedEnd;
    },
    withFastNormals,
    reserve(bytes) {
      const at = pinnedEnd;
      pinnedEnd = align(at + bytes);
      ensure(pinnedEnd);
      return at;
    },
    stackForward(p, batch, out) {
      if (out.length < batch.B) throw new RangeError(`out has ${out.length} values, need B=${batch.B}`);
      if (batch.L < 1) throw new RangeError(`context length L must be >= 1, got ${batch.L}`);
      const c = placeStack(p, batch);
      x.stackForward(c.B, c.L, c.E, p.H, p.nLayers, p.weightTying ? 1 : 0, c.z, c.zq, c.theta, c.out, c.ws);
      out.set(f64(c.out, c.B));
    },
    stackLossAndGrad(p, batch, grad, out) {
      if (grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length}`);
      if (out && out.length < batch.B) throw new RangeError(`out has ${out.length} values, need B=${batch.B}`);
      if (batch.L < 1) throw new RangeError(`context length L must be >= 1, got ${batch.L}`);
      const c = placeStack(p, batch);
      const loss = x.stackLossAndGrad(c.B, c.L, c.E, p.H, p.nLayers, p.weightTying ? 1 : 0, c.z, c.zq, c.yq, c.theta, c.grad, out ? c.out : 0, c.ws);
      grad.set(f64(c.grad, c.n));
      if (out) out.set(f64(c.out, c.B));
      return loss;
    },
    forward(p, batch, out, attn) {
      if (out.length < batch.B) throw new RangeError(`out has ${out.length} values, expected B = ${batch.B}`);
      if (attn && attn.length < batch.B * p.H * batch.L) throw new RangeError(`attn has ${attn.length} values, expected B*H*L = ${batch.B}*${p.H}*${batch.L}`);
      const c = place(p, batch, attn !== undefined);
      x.forward(c.B, c.L, c.E, c.H, c.z, c.zq, c.theta, c.out, c.attn, c.scr);
      out.set(f64(c.out, c.B));
      if (attn) attn.set(f64(c.attn, c.B * c.H * c.L));
    },
    lossAndGrad(p, batch, grad, out) {
      if (grad.length !== p.theta.length) throw new RangeError(`grad has ${grad.length} values, expected ${p.theta.length} (theta length)`);
      if (out && out.length < batch.B) throw new RangeError(`out has ${out.length} values, expected B = ${batch.B}`);
      const c = place(p, batch, false);
      const loss = x.lossAndGrad(c.B, c.L, c.E, c.H, c.z, c.zq, c.yq, c.theta, c.grad, out ? c.out : 0, c.scr);
      grad.set(f64(c.grad, c.n));
      if (out) out.set(f64(c.out, c.B));
      return loss;
    },
    sampleBatch(spec, rng, out, betaOut) {
      return withFastNormals(rng, spec.batchSize * (spec.L + 1) * (spec.d + 1), (fast) => sampleBatchTs(spec, fast, out, betaOut));
    },
    sampleBatch2(spec, stream, out, betaOut) {
      validateTaskSpec(spec);
      const { d, L, batchSize: B } = spec;
      const E = d + 1;
      if (out && (out.B !== B || out.L !== L || out.d !== d)) throw new RangeError(`batch buffer is B=${out.B}, L=${out.L}, d=${out.d}; the task needs B=${B}, L=${L}, d=${d}`);
      if (betaOut && betaOut.length !== B * d) throw new RangeError(`betaOut has ${betaOut.length} values, expected B*d = ${B}*${d}`);
      // scratch after the pinned region: beta, then (for a batch outside wasm memory) z, zq, yq
      const beta = pinnedEnd, sz = align(beta + B * d * 8), szq = align(sz + B * L * E * 8), syq = align(szq + B * E * 8);
      ensure(align(syq + B * 8));
      const batch = out ?? { B, L, d, E, z: new Float64Array(B * L * E), zq: new Float64Array(B * E), yq: new Float64Array(B) };
      const inMem = inMemory(batch.z) && inMemory(batch.zq) && inMemory(batch.yq);
      const v = new Int32Array(mem.buffer, st2, 16);
      v.set(stream.s);
      x.sampleBatch2(st2, inMem ? batch.z.byteOffset : sz, inMem ? batch.zq.byteOffset : szq, inMem ? batch.yq.byteOffset : syq, beta, B, L, d, ...scalesOf(spec));
      stream.s.set(new Int32Array(mem.buffer, st2, 16));
      if (!inMem) {
        batch.z.set(f64(sz, B * L * E));
        batch.zq.set(f64(szq, B * E));
        batch.yq.set(f64(syq, B));
      }
      if (betaOut) betaOut.set(f64(beta, B * d));
      return batch;
    },
    allocBatch(B, L, d, outputs = 1) {
      const E = d + 1, Y = B * outputs;
      const z = pinnedEnd, zq = align(z + B * L * E * 8), yq = align(zq + B * E * 8);
      pinnedEnd = align(yq + Y * 8);
      ensure(pinnedEnd);
      // a plain object shaped like data/batch.ts allocBatch's (same hidden class for the sampler);
      // its views are replaced in place whenever the memory grows (see ensure)
      const batch = { B, L, d, E, z: f64(z, B * L * E), zq: f64(zq, B * E), yq: f64(yq, Y) };
      pinned.push(() => {
        batch.z = f64(z, B * L * E);
        batch.zq = f64(zq, B * E);
        batch.yq = f64(yq, Y);
      });
      return batch;
    },
  };
}

/** The arguments of asm/sampler2.ts sampleBatch2 after the dimensions. */
function scalesOf(spec: TaskSpec): [number, number, number, number, number] {
  const s = taskScales(spec);
  return [s.sigmaCtx, s.betaScale, s.sigmaQ, s.rho, s.c];
}
