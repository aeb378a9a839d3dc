/**
 * Per-prompt inner loops of the fused attention kernel, specialised for one token width E: every
 * loop over E is unrolled and the per-head vectors g_h, u_h and the accumulators live in local
 * variables (registers) instead of arrays. Same algebra as the generic loops in attention.ts (see
 * there for the formulas); the gradient kernel also fuses the score and sum passes into one with
 * an online (running-max) softmax. Tested against the generic loops and the loop-by-loop reference.
 *
 * The source is generated once per E (E <= MAX_SPECIALISED_E) with `new Function`; where that is
 * not allowed (a strict Content-Security-Policy), `specialisedKernel` returns null and the caller
 * uses the generic loops.
 */
import { expNeg } from '../../math/exp.js';

export const MAX_SPECIALISED_E = 16;

/**
 * Runs prompts b = 0..B-1. Inputs z [B, L, E], zq [B, E], yq [B]; A [H, E, E], U [H, E] (the
 * circuits). Scratch S, V [H, L]; ZB, W [H, E]; YB, SUM [H]. With grad: accumulates DA [H, E, E],
 * DU [H, E] (zeroed by the caller) and returns the summed squared error; without: writes out [B]
 * and, if attn is non-null, attn [B, H, L], and returns 0.
 */
export type PromptKernel = (
  z: Float64Array, zq: Float64Array, yq: Float64Array, B: number, L: number, H: number,
  A: Float64Array, U: Float64Array, S: Float64Array, V: Float64Array,
  ZB: Float64Array, W: Float64Array, YB: Float64Array, SUM: Float64Array,
  DA: Float64Array, DU: Float64Array, out: Float64Array | null, attn: Float64Array | null,
) => number;

const cache = new Map<string, PromptKernel | null>();

function source(E: number, grad: boolean): string {
  const r = (f: (e: number) => string, sep = ' ') => Array.from({ length: E }, (_, e) => f(e)).join(sep);
  const sum = (f: (e: number) => string) => Array.from({ length: E }, (_, e) => f(e)).join(' + ');
  return `
"use strict";
return function promptKernel_E${E}_${grad ? 'grad' : 'fwd'}(z, zq, yq, B, L, H, A, U, S, V, ZB, W, YB, SUM, DA, DU, out, attn) {
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const zo = b * L * ${E}, qo = b * ${E};
    ${r((a) => `const q${a} = zq[qo + ${a}];`)}
    let o = 0;
    for (let h = 0; h < H; h++) {
      const ab = h * ${E * E}, ho = h * ${E}, lo = h * L;
      // g_h = A_h^T z_q, u_h
      ${r((c) => `const g${c} = ${sum((a) => `q${a} * A[ab + ${a * E + c}]`)};`, '\n      ')}
      ${r((c) => `const u${c} = U[ho + ${c}];`)}
${grad ? `
      // one pass, online softmax: running max mx; when a score exceeds it, rescale the sums by
      // exp(old - new) (about ln L times per prompt). Start from the first token's score.
      let mx = ${sum((e) => `g${e} * z[zo + ${e}]`)};
      let sum = 0, yb = 0;
      ${r((e) => `let zb${e} = 0, w${e} = 0;`)}
      for (let t = zo, te = zo + L * ${E}; t < te; t += ${E}) {
        ${r((e) => `const z${e} = z[t + ${e}];`)}
        const s = ${sum((e) => `g${e} * z${e}`)};
        const v = ${sum((e) => `u${e} * z${e}`)};
        if (s > mx) {
          const c = expNeg(mx - s);
          sum *= c; yb *= c; ${r((e) => `zb${e} *= c; w${e} *= c;`)}
          mx = s;
        }
        const ex = expNeg(s - mx);
        const ev = ex * v;
        sum += ex;
        yb += ev;
        ${r((e) => `zb${e} += ex * z${e}; w${e} += ev * z${e};`, '\n        ')}
      }` : `
      // pass 1: scores s_i = g.z_i and values v_i = u.z_i
      let mx = -Infinity;
      for (let i = 0, t = zo; i < L; i++, t += ${E}) {
        ${r((e) => `const z${e} = z[t + ${e}];`)}
        const s = ${sum((e) => `g${e} * z${e}`)};
        S[lo + i] = s;
        V[lo + i] = ${sum((e) => `u${e} * z${e}`)};
        if (s > mx) mx = s;
      }
      // pass 2: softmax numerators and the output
      let sum = 0, yb = 0;
      for (let i = 0; i < L; i++) {
        const ex = expNeg(S[lo + i] - mx);
        sum += ex;
        yb += ex * V[lo + i];
        S[lo + i] = ex;
      }`}
      ${grad ? r((e) => `ZB[ho + ${e}] = zb${e}; W[ho + ${e}] = w${e};`, '\n      ') : ''}
      SUM[h] = sum;
      YB[h] = yb / sum;
      o += yb / sum;
      ${grad ? '' : `if (attn !== null) { const inv = 1 / sum, ao = (b * H + h) * L; for (let i = 0; i < L; i++) attn[ao + i] = S[lo + i] * inv; }`}
    }
    ${grad ? `
    if (out !== null) out[b] = o;
    const res = o - yq[b];
    loss += res * res;
    const dout = (2 * res) / B;
    for (let h = 0; h < H; h++) {
      const ab = h * ${E * E}, ho = h * ${E};
      const inv = dout / SUM[h], yb = YB[h];
      ${r((c) => `{ const zb = ZB[ho + ${c}]; DU[ho + ${c}] += inv * zb; const rc = inv * (W[ho + ${c}] - yb * zb); ${r((a) => `DA[ab + ${a * E + c}] += q${a} * rc;`)} }`, '\n      ')}
    }` : 'out[b] = o;'}
  }
  return loss;
};`;
}

/** The kernel for width E (forward-only or with gradient), or null (E too large / no codegen). */
export function specialisedKernel(E: number, grad: boolean): PromptKernel | null {
  const key = `${E}:${grad}`;
  let k = cache.get(key);
  if (k === undefined) {
    k = null;
    if (Number.isInteger(E) && E >= 1 && E <= MAX_SPECIALISED_E) {
      try {
        k = new Function('expNeg', source(E, grad))(expNeg) as PromptKernel;
      } catch {
        k = null; // code generation disallowed: generic loops
      }
    }
    cache.set(key, k);
  }
  return k;
}
