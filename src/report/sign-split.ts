/**
 * Where a run's heads have taken their final signs: the first logged point from which every active
 * head keeps sign(w^h) and sign(mu^h) of the run's last point to the end. The reduced loss's
 * deterministic dynamics do not choose the +/- split of H >= 2 runs (from the run's initial weights,
 * Adam on the factorised reduced loss, core/reduced-adam.ts, sends every head to the same side, the
 * single-head point w = +/-1/sqrt(d), where mu^1 - mu^2 is a flat direction); the run leaves it by
 * batch noise (paper convention) or by couplings the reduced loss leaves out (seed convention, in the
 * first few hundred steps). From this point on the split is settled and the flow can be compared.
 */
import { ACTIVE_HEAD_THRESHOLD } from '../model/circuits.js';

/** Index of the first logged point of [n, H] series w, mu after which the signs never change (0 if always settled). */
export function settledIndex(w: ArrayLike<number>, mu: ArrayLike<number>, H: number, threshold = ACTIVE_HEAD_THRESHOLD): number {
  const n = w.length / H;
  if (!Number.isInteger(n) || n < 1 || mu.length !== w.length) throw new RangeError(`w and mu must both be [n, ${H}], got ${w.length} and ${mu.length} values`);
  const last = n - 1;
  const active: number[] = [];
  for (let h = 0; h < H; h++) if (Math.abs(w[last * H + h]! * mu[last * H + h]!) > threshold) active.push(h);
  let first = last;
  for (let i = last; i >= 0; i--) {
    const ok = active.every((h) => Math.sign(w[i * H + h]!) === Math.sign(w[last * H + h]!) && Math.sign(mu[i * H + h]!) === Math.sign(mu[last * H + h]!));
    if (!ok) break;
    first = i;
  }
  return first;
}
