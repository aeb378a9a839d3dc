/**
 * The exact population loss of the two-head kernel model along its ± valley, beside the authors'
 * reduced loss at the same points (docs/THEORY.md "The exact loss along the ± valley").
 *
 * The valley: two heads with w = (ω, −ω) (QK^h = ±ω I on the x block, the kernel regressor of THEORY)
 * and mu = (m, −m). The model is
 *
 *   TF = m Σ_i y_i g_i,   g_i = softmax_i(ω s_i) − softmax_i(−ω s_i),   s_i = <x_q, x_i>.
 *
 * Given the prompt's inputs (X, x_q), its expected squared error over beta ~ N(0, τ² I) and the
 * noise is exact: with G = Σ_i g_i x_i,
 *
 *   ℓ(m | X, x_q) = τ² |m G − x_q|² + σ² m² |g|² + σ_q²,
 *
 * so the population loss E_x ℓ is estimated by Monte Carlo over the inputs only (β and the noise
 * integrated out). Every ω sees the same prompts (common random numbers): the difference of two
 * points is the mean of per-prompt paired differences, and its standard error is theirs, far below
 * the one of two independent estimates (also reported).
 *
 * Two choices of m per ω:
 *   - m = mu*(ω), the reduced loss's optimum (theory.ts `optimalMu`; its 2 m ω → 1/(1 + d c),
 *     c = (1 + σ²)/L, as ω → 0), so "the reduced loss's valley, measured exactly";
 *   - m = m_exact(ω) = E[τ² G·x_q] / E[τ² |G|² + σ² |g|²], the exact loss's own optimum on these prompts
 *     (the exact valley floor; mu = (m, −m) is optimal by the symmetry x_q → −x_q).
 * The limit ω → 0 is debiased one-step GD at step η = 2 m ω: g_i → 2 ω (s_i − s̄)/L, whose risk has a
 * closed form (theory.ts `debiasedGdRisk`); it is computed on the same prompts.
 */
import { Rng } from '../data/rng.js';
import { debiasedGdRisk, optimalMu, reducedLoss, type RiskParams } from './theory.js';

/** Prompts of the valley's exact loss per prompt of a report's findings sample (20,000 → 500,000: paired s.e. ~2e-5 at ω = 0.13, paper convention). */
export const VALLEY_PROMPTS_PER_SAMPLE = 25;

export interface ValleyOptions extends RiskParams {
  /** Points ω > 0 along the valley (the ω → 0 limit is always added). */
  readonly omegas: readonly number[];
  /** Prompts (inputs X, x_q) shared by every point. */
  readonly prompts: number;
  readonly seed: number;
}

/** One ω along the valley. Differences are to the ω → 0 limit with the same m rule, on the same prompts. */
export interface ValleyPoint {
  readonly omega: number;
  /** The reduced loss's optimum m = mu*(ω) (mu = (m, −m)) and its value there (in the data's units, see `valleyLoss`). */
  readonly muStar: number;
  readonly reduced: number;
  /** The reduced loss minus its ω → 0 limit. */
  readonly reducedRise: number;
  /** Exact loss at m = mu*(ω): mean, standard error, rise over ω → 0 with its paired and independent s.e. */
  readonly exact: number;
  readonly exactSe: number;
  readonly exactRise: number;
  readonly exactRiseSe: number;
  readonly exactRiseSeIndependent: number;
  /** The exact loss's own optimal m on these prompts, its loss and rise over the exact ω → 0 optimum. */
  readonly muExact: number;
  readonly exactMin: number;
  readonly exactMinRise: number;
  readonly exactMinRiseSe: number;
}

export interface ValleyLoss {
  readonly prompts: number;
  readonly seed: number;
  /** The ω → 0 limit: debiased GD at η0 = lim 2 mu*(ω) ω = 1/(1 + d (1 + σ²)/L) and at the exact optimum ηExact. */
  readonly limit: {
    readonly eta0: number;
    readonly reduced: number;
    readonly exact: number;
    readonly exactSe: number;
    /** debiasedGdRisk(eta0): the closed form the Monte Carlo estimates. */
    readonly closedForm: number;
    readonly etaExact: number;
    readonly exactMin: number;
  };
  readonly points: ValleyPoint[];
  /** The ω of lowest loss among the points and the limit (0 for the limit), at m = mu*(ω): exact and reduced. */
  readonly argmin: { readonly exact: number; readonly reduced: number };
}

/**
 * The reduced loss's parameters for a task: its sigma² is the context noise relative to the signal,
 * σ² / (τ² d) (paper convention τ² = 1/d: σ² itself; seed convention: noiseStd²). mu*(ω) does not
 * depend on the scale of y, so it applies to both conventions.
 */
export function reducedParams(r: RiskParams): { d: number; L: number; sigma2: number } {
  return { d: r.d, L: r.L, sigma2: r.sigma2 / ((r.priorVar ?? 1) * r.d) };
}

/** The reduced loss's mu*(ω) for the pair w = (ω, −ω) (its first entry; the second is its negative). */
export function valleyMuStar(omega: number, p: { d: number; L: number; sigma2: number }): number {
  return optimalMu([omega, -omega], p)[0]!;
}

/** lim_{ω→0} 2 mu*(ω) ω = 1 / (1 + d (1 + σ²)/L) = L / (L + d (1 + σ²)). */
export function valleyLimitEta(p: { d: number; L: number; sigma2: number }): number {
  return p.L / (p.L + p.d * (1 + p.sigma2));
}

/**
 * ℓ(m | X, x_q) for one prompt, written out (the reference for `valleyLoss`'s faster loop): the prediction
 * weights a_i = m g_i (ω = 0: a_i = m (s_i − s̄)/L, i.e. debiased GD at step m) and
 * ℓ = τ² |Σ_i a_i x_i − x_q|² + σ² Σ_i a_i² + σ_q². x is [L, d] row-major, xq [d].
 */
export function promptLoss(x: ArrayLike<number>, xq: ArrayLike<number>, omega: number, m: number, r: RiskParams): number {
  const { d, L, sigma2 } = r;
  const s = Array.from({ length: L }, (_, i) => { let t = 0; for (let k = 0; k < d; k++) t += x[i * d + k]! * xq[k]!; return t; });
  const sbar = s.reduce((a, b) => a + b, 0) / L;
  let a: number[];
  if (omega === 0) a = s.map((v) => (m * (v - sbar)) / L);
  else {
    const soft = (w: number) => { const e = s.map((v) => Math.exp(w * v)); const z = e.reduce((u, v) => u + v, 0); return e.map((v) => v / z); };
    const p = soft(omega), q = soft(-omega);
    a = p.map((v, i) => m * (v - q[i]!));
  }
  let err = 0;
  for (let k = 0; k < d; k++) {
    let t = -xq[k]!;
    for (let i = 0; i < L; i++) t += a[i]! * x[i * d + k]!;
    err += t * t;
  }
  return (r.priorVar ?? 1) * err + sigma2 * a.reduce((u, v) => u + v * v, 0) + (r.queryNoiseVar ?? 0);
}

/** Per-prompt sufficient statistics of ℓ(m) = q m² − 2 r m + c at one ω (the coefficients, over the inputs). */
interface Quad {
  q: Float64Array;
  r: Float64Array;
}

/** Mean and standard error of a sample. */
function meanSe(x: ArrayLike<number>): { mean: number; se: number; variance: number } {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]!;
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i]! - mean) ** 2;
  const variance = n > 1 ? v / (n - 1) : NaN;
  return { mean, se: Math.sqrt(variance / n), variance };
}

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

/**
 * The exact population loss along the ± valley at `omegas` and its ω → 0 limit, on `prompts` shared
 * inputs, with the reduced loss at the same points. The reduced loss is the authors' (paper convention);
 * for another prior it is taken at the relative noise (`reducedParams`) and put in the data's units,
 * τ² d (L̃ − σ_r²) + σ_q², so that both columns are losses of the same predictions.
 */
export function valleyLoss(o: ValleyOptions): ValleyLoss {
  const { d, L, sigma2 } = o;
  const tau2 = o.priorVar ?? 1;
  const q2 = o.queryNoiseVar ?? 0;
  const n = o.prompts;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`prompts must be an integer >= 2, got ${n}`);
  for (const w of o.omegas) if (!(w > 0) || !Number.isFinite(w)) throw new RangeError(`every omega must be a finite number > 0, got ${w}`);
  const K = o.omegas.length;
  const rng = new Rng(o.seed);
  const x = new Float64Array(L * d); // [L, d]
  const xq = new Float64Array(d);
  const s = new Float64Array(L);
  const g = new Float64Array(L);
  const ep = new Float64Array(L), em = new Float64Array(L);
  const G = new Float64Array(d);
  const c = new Float64Array(n); // τ² |x_q|² + σ_q²
  const quads: Quad[] = Array.from({ length: K + 1 }, () => ({ q: new Float64Array(n), r: new Float64Array(n) })); // [0]: ω → 0 (per unit η: g = (s − s̄)/L)
  for (let p = 0; p < n; p++) {
    rng.fillNormal(x);
    rng.fillNormal(xq);
    let sbar = 0;
    let sMax = -Infinity, sMin = Infinity;
    for (let i = 0; i < L; i++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += x[i * d + k]! * xq[k]!;
      s[i] = dot;
      sbar += dot;
      sMax = Math.max(sMax, dot);
      sMin = Math.min(sMin, dot);
    }
    sbar /= L;
    let xx = 0;
    for (let k = 0; k < d; k++) xx += xq[k]! * xq[k]!;
    c[p] = tau2 * xx + q2;
    const accumulate = (j: number) => {
      G.fill(0);
      let gg = 0;
      for (let i = 0; i < L; i++) {
        gg += g[i]! * g[i]!;
        for (let k = 0; k < d; k++) G[k] += g[i]! * x[i * d + k]!;
      }
      let GG = 0, Gx = 0;
      for (let k = 0; k < d; k++) { GG += G[k]! * G[k]!; Gx += G[k]! * xq[k]!; }
      quads[j]!.q[p] = tau2 * GG + sigma2 * gg;
      quads[j]!.r[p] = tau2 * Gx;
    };
    for (let i = 0; i < L; i++) g[i] = (s[i]! - sbar) / L;
    accumulate(0);
    for (let j = 0; j < K; j++) {
      const w = o.omegas[j]!;
      let zp = 0, zm = 0;
      for (let i = 0; i < L; i++) {
        ep[i] = Math.exp(w * (s[i]! - sMax));
        em[i] = Math.exp(-w * (s[i]! - sMin));
        zp += ep[i]!;
        zm += em[i]!;
      }
      for (let i = 0; i < L; i++) g[i] = ep[i]! / zp - em[i]! / zm;
      accumulate(j + 1);
    }
  }
  const rp = reducedParams(o);
  const scale = tau2 * d; // the reduced loss in the data's units: scale (L̃ − σ_r²) + σ_q² (paper convention: L̃ itself)
  const inUnits = (lt: number) => scale * (lt - rp.sigma2) + q2;
  const loss = (j: number, m: number) => {
    const { q, r } = quads[j]!;
    const out = new Float64Array(n);
    for (let p = 0; p < n; p++) out[p] = q[p]! * m * m - 2 * r[p]! * m + c[p]!;
    return out;
  };
  const bestM = (j: number) => mean(quads[j]!.r) / mean(quads[j]!.q);
  const diff = (a: Float64Array, b: Float64Array) => a.map((v, i) => v - b[i]!);
  const eta0 = valleyLimitEta(rp);
  const limit0 = loss(0, eta0); // ω → 0 at m = mu*(ω): η = eta0
  const etaExact = bestM(0);
  const limitMin = loss(0, etaExact);
  const l0 = meanSe(limit0);
  const reduced0 = inUnits(1 + rp.sigma2 - eta0); // L̃ at mu*: 1 + σ² − w·mu* → 1 + σ² − η0
  const points: ValleyPoint[] = o.omegas.map((omega, j) => {
    const muStar = valleyMuStar(omega, rp);
    const reduced = inUnits(reducedLoss([muStar, -muStar], [omega, -omega], rp));
    const at = loss(j + 1, muStar);
    const a = meanSe(at);
    const rise = meanSe(diff(at, limit0));
    const muExact = bestM(j + 1);
    const atMin = loss(j + 1, muExact);
    const riseMin = meanSe(diff(atMin, limitMin));
    return {
      omega, muStar, reduced, reducedRise: reduced - reduced0,
      exact: a.mean, exactSe: a.se, exactRise: rise.mean, exactRiseSe: rise.se,
      exactRiseSeIndependent: Math.sqrt(a.variance / n + l0.variance / n),
      muExact, exactMin: mean(atMin), exactMinRise: riseMin.mean, exactMinRiseSe: riseMin.se,
    };
  });
  const argmin = (key: 'exactRise' | 'reducedRise') => points.reduce((best, p) => (p[key] < best.v ? { w: p.omega, v: p[key] } : best), { w: 0, v: 0 }).w;
  return {
    prompts: n, seed: o.seed, argmin: { exact: argmin('exactRise'), reduced: argmin('reducedRise') },
    limit: { eta0, reduced: reduced0, exact: l0.mean, exactSe: l0.se, closedForm: debiasedGdRisk(eta0, o), etaExact, exactMin: mean(limitMin) },
    points,
  };
}
