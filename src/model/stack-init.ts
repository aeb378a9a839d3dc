/**
 * Initial weights for the causal attention stack, after the seed's `CausalMultiHeadAttention`
 * inits with its bugs fixed (SEED_NOTES #4):
 *
 *   random        every weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like nn.Linear's default:
 *                 fan_in = E for q, k, v; E*H for o_proj; E for final_linear.
 *   small_id      q = k = v = 1e-6 [I; I; ...] (E*H, E) and o_proj = 1e-6 [I I ...] (E, E*H)
 *                 (the seed forgets o_proj, docs/SEED_NOTES.md #4).
 *   small_id_qk   q = k = 1e-4 [I; I; ...]; v, o_proj random.
 *   oppo_small_id like small_id, but Q of the second half of the heads is -1e-6 I, so those heads
 *                 start with QK = -1e-12 I (the seed also negates K, V and O, which cancels out,
 *                 docs/SEED_NOTES.md #4). H must be even.
 *   final_linear is always random (the seed never overrides it).
 *
 * RNG consumption does not depend on the method: like the seed (which builds every nn.Linear
 * and then overwrites it), all random weights are drawn first, block by block (q, k, v, o of each
 * layer block, row-major; one block with weight tying), then final_linear; the method then
 * overwrites. So runs with different inits share the same final_linear for the same seed.
 */
import { allocStackParams, type StackParams } from './stack.js';

/** Anything with `nextDouble()` in [0, 1): `data/rng.ts`'s Rng fits. */
import { INIT_NAMES, type InitName } from './init.js';

export { INIT_NAMES };

export interface UniformSource {
  nextDouble(): number;
}

function fillUniform(a: Float64Array, bound: number, rng: UniformSource): void {
  for (let i = 0; i < a.length; i++) a[i] = (2 * rng.nextDouble() - 1) * bound; // U(-bound, bound)
}

/** Stacked identities: [s_0 I; s_1 I; ...] (E*H, E), s_h = scale * sign(h). */
function stackedIdentity(a: Float64Array, E: number, H: number, sign: (h: number) => number, scale: number): void {
  a.fill(0);
  for (let h = 0; h < H; h++) for (let e = 0; e < E; e++) a[(h * E + e) * E + e] = scale * sign(h);
}

/** [I I ...] (E, E*H) times scale. */
function concatIdentity(a: Float64Array, E: number, H: number, scale: number): void {
  a.fill(0);
  for (let h = 0; h < H; h++) for (let e = 0; e < E; e++) a[e * E * H + h * E + e] = scale;
}

export function initStackParams(
  d: number,
  H: number,
  nLayers: number,
  weightTying: boolean,
  method: InitName,
  rng: UniformSource,
): StackParams {
  if (!(INIT_NAMES as readonly string[]).includes(method)) {
    throw new RangeError(`unknown init method '${method}' (allowed: ${INIT_NAMES.join(', ')})`);
  }
  if (method === 'zfb') throw new RangeError("init 'zfb' is for the one-layer regression model, not a stack");
  if (method === 'oppo_small_id' && H % 2 !== 0) {
    throw new RangeError(`init 'oppo_small_id' needs an even number of heads, got H=${H}`);
  }
  const p = allocStackParams(d, H, nLayers, weightTying);
  const { E } = p;
  for (let bl = 0; bl < p.nBlocks; bl++) {
    const w = p.layers[bl]!;
    fillUniform(w.q, 1 / Math.sqrt(E), rng);
    fillUniform(w.k, 1 / Math.sqrt(E), rng);
    fillUniform(w.v, 1 / Math.sqrt(E), rng);
    fillUniform(w.o, 1 / Math.sqrt(E * H), rng);
  }
  fillUniform(p.finalLinear, 1 / Math.sqrt(E), rng);
  const plus = (): number => 1;
  for (let bl = 0; bl < p.nBlocks; bl++) {
    const w = p.layers[bl]!;
    switch (method) {
      case 'random':
        break;
      case 'small_id':
        stackedIdentity(w.q, E, H, plus, 1e-6);
        stackedIdentity(w.k, E, H, plus, 1e-6);
        stackedIdentity(w.v, E, H, plus, 1e-6);
        concatIdentity(w.o, E, H, 1e-6);
        break;
      case 'small_id_qk':
        stackedIdentity(w.q, E, H, plus, 1e-4);
        stackedIdentity(w.k, E, H, plus, 1e-4);
        break;
      case 'oppo_small_id':
        stackedIdentity(w.q, E, H, (h) => (h < H / 2 ? 1 : -1), 1e-6);
        stackedIdentity(w.k, E, H, plus, 1e-6);
        stackedIdentity(w.v, E, H, plus, 1e-6);
        concatIdentity(w.o, E, H, 1e-6);
        break;
    }
  }
  return p;
}
