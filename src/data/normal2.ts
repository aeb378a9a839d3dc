/**
 * Stream version 2: the batch sampler of new runs, defined here in TypeScript (the oracle) and
 * built for speed in WebAssembly (asm/sampler2.ts, four generator lanes in i32x4, two ziggurat
 * candidates per f64x2), which must produce the same doubles bit for bit
 * (test/core.normal2.test.ts). Version 1 is data/rng.ts `Rng.fillNormal` + data/task.ts
 * `sampleBatch`; runs recorded with it keep using it (data/stream.ts).
 *
 * The stream:
 *   state      : four independent xoshiro128** generators (lanes 0..3), 16 uint32 words, seeded
 *                with 16 `nextUint32()` draws of the run's Rng after the initial weights
 *                (lane k = words 4k..4k+3; an all-zero lane gets s0 = 1).
 *   step       : one xoshiro128** step of every lane -> words w0 w1 w2 w3.
 *   candidates : two per step, p = 0 then 1: R_p = w_{2p} + 2^32 w_{2p+1} (64 bits);
 *                byte = R & 511 (layer i = byte & 255, bit 8 = sign), U = (R >>> 12) 2^-52, a
 *                52-bit uniform on [0, 1) independent of the byte (Doornik 2005).
 *   ziggurat   : Marsaglia-Tsang's 256 layers (R = 3.6541528853610088, V = 4.92867323399e-3; data/rng.ts's
 *                construction, x_256 = 0), so 98.5 % of candidates take the fast path (version 1: 97.2 %):
 *                U < KR[i] = x_{i+1}/x_i       -> U * XS[byte] (= +-U x_i)                
 *                else i > 0 (wedge)            -> one more step, V = its candidate-0 uniform;
 *                                                 x = U XS[byte] if F[i] + V (F[i+1] - F[i]) < expNeg(-x^2/2), else nothing
 *                else i = 0 (base layer)       -> x = U x_0; if x >= R: Marsaglia's tail, one step per
 *                                                 try (V0, V1 its two uniforms: t = -log(1-V0)/R,
 *                                                 y = -log(1-V1), until 2y >= t^2; x = R + t); signed by bit 8
 *                Candidate 0 is finished (its extra steps included) before candidate 1 of the same step.
 *   batch      : the normals go to z [B, L, E], zq [B, E], beta [B, d] in that order as ONE stream
 *                (a leftover candidate continues in the next array; the one left over at the end of
 *                the batch is dropped, so every batch starts with a fresh step); then y is built as
 *                data/task.ts does (seed/paper presets, rho), see `assembleBatch2`.
 * Exactness: every accepted value is the ziggurat's exact transformation of a 52-bit uniform
 * (finer than version 1's 32 bits); the moments and tails are tested as for version 1.
 */
import type { Batch } from './batch.js';
import { expNeg } from '../math/exp.js';
import type { Rng } from './rng.js';
import { assembleKernel, batchAndBeta, type TaskSpec } from './task.js';
import { applyBetaPrior } from './beta-prior.js';

// ---- tables: 256 layers, built as data/rng.ts builds its 128 ------------------------------------
const ZIG_C = 256;
export const ZIG_R = 3.6541528853610088;
const ZIG_V = 4.92867323399e-3;
const ZX = new Float64Array(ZIG_C + 1);
/** accept threshold on U: U < KR[i] (= x_{i+1} / x_i) */
export const KR = new Float64Array(ZIG_C);
/** signed layer widths by the 9-bit byte: XS[i] = x_i, XS[i + 256] = -x_i */
export const XS = new Float64Array(2 * ZIG_C);
/** f(x_i) = exp(-x_i^2 / 2) */
export const F = new Float64Array(ZIG_C + 1);
{
  let f = Math.exp(-0.5 * ZIG_R * ZIG_R);
  ZX[0] = ZIG_V / f;
  ZX[1] = ZIG_R;
  for (let i = 2; i < ZIG_C; i++) {
    ZX[i] = Math.sqrt(-2 * Math.log(ZIG_V / ZX[i - 1]! + f));
    f = Math.exp(-0.5 * ZX[i]! * ZX[i]!);
  }
  ZX[ZIG_C] = 0;
  for (let i = 0; i < ZIG_C; i++) {
    KR[i] = ZX[i + 1]! / ZX[i]!;
    XS[i] = ZX[i]!;
    XS[i + ZIG_C] = -ZX[i]!;
  }
  for (let i = 0; i <= ZIG_C; i++) F[i] = Math.exp(-0.5 * ZX[i]! * ZX[i]!);
}
/** x_0 = V / f(R), the base layer's pseudo-width */
export const X0 = ZX[0]!;

const TWO_M52 = 2 ** -52;
/** Number of entries of a version-2 state (`getState()`). */
export const STATE2_LENGTH = 16;

/**
 * The version-2 normal stream (TypeScript oracle). State: s[4w + k] = word w of lane k (the SoA
 * order the wasm build keeps in four i32x4 registers).
 */
export class NormalStream2 {
  readonly s = new Int32Array(16);
  /** the last step's four output words */
  private readonly w = new Int32Array(4);

  /** Seeded from 16 draws of `rng` (the run's Rng, after the initial weights). */
  static fromRng(rng: Rng): NormalStream2 {
    const n = new NormalStream2();
    const words = Array.from({ length: 16 }, () => rng.nextUint32());
    for (let k = 0; k < 4; k++) {
      if ((words[4 * k]! | words[4 * k + 1]! | words[4 * k + 2]! | words[4 * k + 3]!) === 0) words[4 * k] = 1;
      for (let w = 0; w < 4; w++) n.s[4 * w + k] = words[4 * k + w]! | 0;
    }
    return n;
  }

  static fromState(state: readonly number[]): NormalStream2 {
    const n = new NormalStream2();
    n.setState(state);
    return n;
  }

  /** The 16 state words as uint32, lane by lane (lane k = entries 4k..4k+3: s0 s1 s2 s3). */
  getState(): number[] {
    const out: number[] = [];
    for (let k = 0; k < 4; k++) for (let w = 0; w < 4; w++) out.push(this.s[4 * w + k]! >>> 0);
    return out;
  }

  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== STATE2_LENGTH)
      throw new RangeError(`stream version 2 state must be an array of ${STATE2_LENGTH} numbers, got ${Array.isArray(state) ? `length ${state.length}` : typeof state}`);
    for (let i = 0; i < 16; i++) {
      const v = state[i]!;
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`stream version 2 state[${i}] must be a uint32, got ${v}`);
    }
    for (let k = 0; k < 4; k++) {
      if ((state[4 * k]! | state[4 * k + 1]! | state[4 * k + 2]! | state[4 * k + 3]!) === 0) throw new RangeError(`stream version 2 state: lane ${k}'s words must not all be zero`);
      for (let w = 0; w < 4; w++) this.s[4 * w + k] = state[4 * k + w]! | 0;
    }
  }

  clone(): NormalStream2 {
    return NormalStream2.fromState(this.getState());
  }

  /** One step of the four lanes; the output words land in this.w. */
  private step(): void {
    const s = this.s, w = this.w;
    for (let k = 0; k < 4; k++) {
      const s0 = s[k]!, s1 = s[4 + k]!, s2 = s[8 + k]!, s3 = s[12 + k]!;
      const m = Math.imul(s1, 5);
      w[k] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      const n2 = s2 ^ s0, n3 = s3 ^ s1;
      s[4 + k] = s1 ^ n2;
      s[k] = s0 ^ n3;
      s[8 + k] = n2 ^ t;
      s[12 + k] = (n3 << 11) | (n3 >>> 21);
    }
  }

  /** U of candidate p of the last step */
  private u(p: number): number {
    return ((this.w[2 * p + 1]! >>> 0) * 1048576 + (this.w[2 * p]! >>> 12)) * TWO_M52;
  }

  /** The value of candidate (byte, U), or NaN for none (a rejected wedge draw). */
  private candidate(byte: number, u: number): number {
    const i = byte & 255;
    if (u < KR[i]!) return u * XS[byte]!;
    if (i !== 0) {
      const x = u * XS[byte]!;
      this.step();
      const v = this.u(0);
      return F[i]! + v * (F[i + 1]! - F[i]!) < expNeg(-0.5 * x * x) ? x : NaN;
    }
    let x = u * X0;
    if (x >= ZIG_R) {
      let t: number, y: number;
      do {
        this.step();
        t = -Math.log(1 - this.u(0)) / ZIG_R;
        y = -Math.log(1 - this.u(1));
      } while (y + y < t * t);
      x = ZIG_R + t;
    }
    return byte & 256 ? -x : x;
  }

  /**
   * Fill the arrays' ranges in order as one stream (the layout of a batch: z, zq, beta); the
   * candidate left over at the end is dropped. The fast form of `fillDefinition` (the same stream).
   */
  fill(parts: readonly (readonly [Float64Array, number, number])[]): void {
    this.pendingByte = -1;
    for (const [out, j, end] of parts) this.fillRange(out, j, end);
    this.pendingByte = -1;
  }

  /** byte and U of a candidate left over by the last `fillRange` (byte -1: none) */
  private pendingByte = -1;
  private pendingU = 0;

  /** out[j..end) (a pending candidate first; a leftover becomes pending): asm/sampler2.ts fill2's loop. */
  private fillRange(out: Float64Array, j: number, end: number): void {
    if (j >= end) return;
    if (this.pendingByte >= 0) {
      const x = this.candidate(this.pendingByte, this.pendingU);
      this.pendingByte = -1;
      if (x === x) out[j++] = x;
    }
    const s = this.s, kr = KR, xs = XS;
    // the four lanes' words in locals (a = s0, b = s1, c = s2, d = s3 of lanes 0..3)
    let a0 = s[0]!, a1 = s[1]!, a2 = s[2]!, a3 = s[3]!, b0 = s[4]!, b1 = s[5]!, b2 = s[6]!, b3 = s[7]!;
    let c0 = s[8]!, c1 = s[9]!, c2 = s[10]!, c3 = s[11]!, d0 = s[12]!, d1 = s[13]!, d2 = s[14]!, d3 = s[15]!;
    let m: number, t: number, w0: number, w1: number, w2: number, w3: number;
    while (j < end) {
      // one step of every lane (the xoshiro128** step of `step()`, unrolled)
      m = Math.imul(b0, 5); w0 = Math.imul((m << 7) | (m >>> 25), 9); t = b0 << 9; c0 ^= a0; d0 ^= b0; b0 ^= c0; a0 ^= d0; c0 ^= t; d0 = (d0 << 11) | (d0 >>> 21);
      m = Math.imul(b1, 5); w1 = Math.imul((m << 7) | (m >>> 25), 9); t = b1 << 9; c1 ^= a1; d1 ^= b1; b1 ^= c1; a1 ^= d1; c1 ^= t; d1 = (d1 << 11) | (d1 >>> 21);
      m = Math.imul(b2, 5); w2 = Math.imul((m << 7) | (m >>> 25), 9); t = b2 << 9; c2 ^= a2; d2 ^= b2; b2 ^= c2; a2 ^= d2; c2 ^= t; d2 = (d2 << 11) | (d2 >>> 21);
      m = Math.imul(b3, 5); w3 = Math.imul((m << 7) | (m >>> 25), 9); t = b3 << 9; c3 ^= a3; d3 ^= b3; b3 ^= c3; a3 ^= d3; c3 ^= t; d3 = (d3 << 11) | (d3 >>> 21);
      const y0 = w0 & 511, y1 = w2 & 511;
      const u0 = ((w1 >>> 0) * 1048576 + (w0 >>> 12)) * TWO_M52;
      const u1 = ((w3 >>> 0) * 1048576 + (w2 >>> 12)) * TWO_M52;
      if (j + 2 <= end && u0 < kr[y0 & 255]! && u1 < kr[y1 & 255]!) {
        out[j] = u0 * xs[y0]!;
        out[j + 1] = u1 * xs[y1]!;
        j += 2;
        continue;
      }
      // the rare path: the state back to this.s for `candidate` (it may step), then reloaded
      s[0] = a0; s[1] = a1; s[2] = a2; s[3] = a3; s[4] = b0; s[5] = b1; s[6] = b2; s[7] = b3;
      s[8] = c0; s[9] = c1; s[10] = c2; s[11] = c3; s[12] = d0; s[13] = d1; s[14] = d2; s[15] = d3;
      const x0 = this.candidate(y0, u0);
      if (x0 === x0) out[j++] = x0;
      if (j >= end) {
        this.pendingByte = y1;
        this.pendingU = u1;
        return;
      }
      const x1 = this.candidate(y1, u1);
      if (x1 === x1) out[j++] = x1;
      a0 = s[0]!; a1 = s[1]!; a2 = s[2]!; a3 = s[3]!; b0 = s[4]!; b1 = s[5]!; b2 = s[6]!; b3 = s[7]!;
      c0 = s[8]!; c1 = s[9]!; c2 = s[10]!; c3 = s[11]!; d0 = s[12]!; d1 = s[13]!; d2 = s[14]!; d3 = s[15]!;
    }
    s[0] = a0; s[1] = a1; s[2] = a2; s[3] = a3; s[4] = b0; s[5] = b1; s[6] = b2; s[7] = b3;
    s[8] = c0; s[9] = c1; s[10] = c2; s[11] = c3; s[12] = d0; s[13] = d1; s[14] = d2; s[15] = d3;
  }

  /**
   * The definition of the stream, plainly (kept for the tests): the candidates of each step in
   * order, each written to the next free slot of the parts; the one left over at the end dropped.
   */
  fillDefinition(parts: readonly (readonly [Float64Array, number, number])[]): void {
    let pi = 0;
    while (pi < parts.length && parts[pi]![1] >= parts[pi]![2]) pi++;
    if (pi === parts.length) return;
    let [out, j, end] = parts[pi]!;
    const emit = (x: number): boolean => {
      out[j++] = x;
      if (j < end) return true;
      for (pi++; pi < parts.length; pi++) {
        [out, j, end] = parts[pi]!;
        if (j < end) return true;
      }
      return false; // all filled
    };
    for (;;) {
      this.step();
      const b0 = this.w[0]! & 511, u0 = this.u(0), b1 = this.w[2]! & 511, u1 = this.u(1);
      const x0 = this.candidate(b0, u0);
      if (x0 === x0 && !emit(x0)) return;
      const x1 = this.candidate(b1, u1);
      if (x1 === x1 && !emit(x1)) return;
    }
  }

  /** out[start..end) = standard normals (one fill: the leftover candidate is dropped). */
  fillNormal(out: Float64Array, start = 0, end = out.length): void {
    this.fill([[out, start, end]]);
  }
}

/** The derived constants of a task: context noise, beta scale, query noise, AR(1) rho and sqrt(1 - rho^2). */
export function taskScales(spec: TaskSpec): { sigmaCtx: number; betaScale: number; sigmaQ: number; rho: number; c: number } {
  const paper = spec.preset === 'paper';
  const rho = spec.rho ?? 0;
  return {
    sigmaCtx: paper ? spec.noiseStd : Math.sqrt(spec.d) * spec.noiseStd,
    betaScale: paper ? 1 / Math.sqrt(spec.d) : 1,
    sigmaQ: paper ? spec.noiseStd : 0,
    rho,
    c: Math.sqrt(1 - rho * rho),
  };
}

/**
 * y from the normals in place (data/task.ts's recipe, the operation order of asm/sampler2.ts:
 * every sum over coordinates starts from its first product): beta scaled, AR(1), y_i, y_q.
 */
export function assembleBatch2(spec: TaskSpec, batch: Batch, beta: Float64Array): void {
  const { d, L, batchSize: B } = spec;
  const E = d + 1;
  const { sigmaCtx, betaScale, sigmaQ, rho, c } = taskScales(spec);
  const z = batch.z, zq = batch.zq, yq = batch.yq;
  if (betaScale !== 1) for (let j = 0; j < B * d; j++) beta[j] *= betaScale;
  applyBetaPrior(spec, beta, B);
  if (rho !== 0) {
    for (let t = 0; t < B * L * E; t += E) for (let j = 1; j < d; j++) z[t + j] = rho * z[t + j - 1]! + c * z[t + j]!;
    for (let q = 0; q < B * E; q += E) for (let j = 1; j < d; j++) zq[q + j] = rho * zq[q + j - 1]! + c * zq[q + j]!;
  }
  const fast = assembleKernel(d); // d <= 16: the same sums (first product first), unrolled
  if (fast) fast(z, beta, B, L, sigmaCtx);
  else {
    for (let b = 0; b < B; b++) {
      const bo = b * d;
      for (let t = b * L * E, te = t + L * E; t < te; t += E) {
        let y = beta[bo]! * z[t]!;
        for (let j = 1; j < d; j++) y += beta[bo + j]! * z[t + j]!;
        z[t + d] = y + sigmaCtx * z[t + d]!;
      }
    }
  }
  for (let b = 0; b < B; b++) {
    const bo = b * d, q = b * E;
    let y = 0;
    for (let j = 0; j < d; j++) y += beta[bo + j]! * zq[q + j]!;
    yq[b] = y + sigmaQ * zq[q + d]!;
    zq[q + d] = 0;
  }
}

/** A batch of stream version 2 (the oracle of the wasm kernel's `sampleBatch2`). */
export function sampleBatch2(spec: TaskSpec, stream: NormalStream2, out?: Batch, betaOut?: Float64Array): Batch {
  const { batch, beta } = batchAndBeta(spec, out, betaOut);
  const { d, L, batchSize: B } = spec;
  const E = d + 1;
  stream.fill([[batch.z, 0, B * L * E], [batch.zq, 0, B * E], [beta, 0, B * d]]);
  assembleBatch2(spec, batch, beta);
  return batch;
}
