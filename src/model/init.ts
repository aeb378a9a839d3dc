/**
 * Initial weights, exactly the seed's `MultiHeadAttention.__init__` (n_out = 1):
 *
 *   random        nn.Linear default: every weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 *                 fan_in = E for q/k/v, E*H for o
 *   small_id      q, k, v = 1e-6 * I repeated for every head; o stays random. One rule for
 *                 both architectures (the seed's): o_proj gets 1e-6 identities only when it writes a
 *                 whole token (n_out = None: every layer of a stack, model/stack-init.ts); the
 *                 one-layer regression model's o_proj has a scalar output (n_out = 1) and stays random
 *   small_id_qk   q, k = 1e-4 * I per head; v, o random
 *   oppo_small_id q = +1e-6 I for heads 0..H/2-1 and -1e-6 I for heads H/2..H-1, k = +1e-6 I,
 *                 v, o random: half the heads start with QK = -eps^2 I. Needs an even H.
 *   zfb           Zhang-Frei-Bartlett's initialisation (not the seed's): every head a small GD
 *                 construction (model/gd-construction.ts, w = 0.1, mu = 0.1): QK x-block 0.1 I,
 *                 OV y-entry 0.1, every other circuit entry (QK x -> y, OV x) 0, so training starts in
 *                 the GD subspace. One-layer regression model only (run/config.ts).
 *
 * Like PyTorch, every weight is first drawn at random (so each method consumes the same amount of
 * randomness) and then overwritten.
 */
import { allocParams, type AttentionParams } from './params.js';
import { gdConstruction } from './gd-construction.js';

/** w and mu of every head under init 'zfb'. */
export const ZFB_SCALE = 0.1;
import type { Rng } from '../data/rng.js';

export type InitName = 'random' | 'small_id' | 'small_id_qk' | 'oppo_small_id' | 'zfb';
export const INIT_NAMES: readonly InitName[] = ['random', 'small_id', 'small_id_qk', 'oppo_small_id', 'zfb'];

function fillUniform(w: Float64Array, bound: number, rng: Rng): void {
  for (let i = 0; i < w.length; i++) w[i] = (2 * rng.nextDouble() - 1) * bound;
}

/** w (E*H, E) := scale * I for every head block (rows h*E..(h+1)*E); `sign(h)` flips a head. */
function setHeadIdentities(w: Float64Array, E: number, H: number, scale: (h: number) => number): void {
  w.fill(0);
  for (let h = 0; h < H; h++) {
    const s = scale(h);
    for (let r = 0; r < E; r++) w[(h * E + r) * E + r] = s;
  }
}

export function initParams(d: number, H: number, method: InitName, rng: Rng, nOut = 1): AttentionParams {
  if (!INIT_NAMES.includes(method)) throw new RangeError(`init method must be one of ${INIT_NAMES.join(', ')}, got ${String(method)}`);
  if (method === 'oppo_small_id' && H % 2 !== 0)
    throw new RangeError(`init 'oppo_small_id' needs an even number of heads (half start with QK = +eps^2 I, half with -eps^2 I), got H=${H}`);
  const p = allocParams(d, H, nOut);
  const E = p.E;
  fillUniform(p.q, 1 / Math.sqrt(E), rng); // [E*H, E]
  fillUniform(p.k, 1 / Math.sqrt(E), rng); // [E*H, E]
  fillUniform(p.v, 1 / Math.sqrt(E), rng); // [E*H, E]
  fillUniform(p.o, 1 / Math.sqrt(E * H), rng); // [nOut, E*H]
  switch (method) {
    case 'random':
      break;
    case 'small_id':
      setHeadIdentities(p.q, E, H, () => 1e-6);
      setHeadIdentities(p.k, E, H, () => 1e-6);
      setHeadIdentities(p.v, E, H, () => 1e-6);
      break;
    case 'small_id_qk':
      setHeadIdentities(p.q, E, H, () => 1e-4);
      setHeadIdentities(p.k, E, H, () => 1e-4);
      break;
    case 'oppo_small_id':
      setHeadIdentities(p.q, E, H, (h) => (h < H / 2 ? 1e-6 : -1e-6));
      setHeadIdentities(p.k, E, H, () => 1e-6);
      break;
    case 'zfb': {
      if (nOut !== 1) throw new RangeError(`init 'zfb' is for the one-output regression model, got n_out = ${nOut}`);
      const g = gdConstruction(d, ZFB_SCALE * ZFB_SCALE, ZFB_SCALE); // one head: [q | k | v | o] of H = 1
      const EE = E * E;
      for (const w of [p.q, p.k, p.v]) w.fill(0);
      p.o.fill(0);
      for (let h = 0; h < H; h++) {
        p.q.set(g.q, h * EE);
        p.k.set(g.k, h * EE);
        p.v.set(g.v, h * EE);
        p.o.set(g.o, h * E);
      }
      break;
    }
  }
  return p;
}
