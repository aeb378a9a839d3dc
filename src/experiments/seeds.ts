/**
 * An experiment over several RNG seeds (`reproduce --seeds N`): every run once per seed (folders
 * `<run>-seed<S>`), the experiment's report per seed (report/seed-<S>/), and each finding judged
 * across the seeds: its result on every seed, the fraction of the seeds where it applies that pass,
 * and a verdict that a researcher can quote ("on 9 of 10 seeds").
 *
 * A finding passes across seeds when it passes on at least SEED_PASS_FRACTION of the seeds where it
 * applies (and applies on at least one); a finding that is n/a on a seed (e.g. one that needs the heads'
 * +/- split, on a run that has not split yet) is left out of that seed's count, never counted FAIL.
 */
import { ACTIVE_HEAD_THRESHOLD } from '../model/circuits.js';
import type { Finding } from '../report/findings.js';
import { settledIndex } from '../report/sign-split.js';
import type { TrainConfig } from '../run/config.js';
import { readMetrics } from '../run/run-dir.js';

/** The share of applicable seeds a finding must pass on: 9 of 10. */
export const SEED_PASS_FRACTION = 0.9;

/** A config for another seed (its task pool follows the seed when it did before). */
export function withSeed(c: TrainConfig, seed: number): TrainConfig {
  return { ...c, seed, poolSeed: c.poolSeed === c.seed ? seed : c.poolSeed };
}

export const seededName = (name: string, seed: number): string => `${name}-seed${seed}`;

export interface SeedVerdict {
  seed: number;
  value: number;
  result: Finding['result'];
}

/** A finding judged across seeds: the first seed's claim and threshold, value = the pass fraction. */
export interface AcrossSeedsFinding extends Finding {
  per_seed: SeedVerdict[];
  passed_seeds: number;
  applicable_seeds: number;
  pass_fraction: number | null;
}

export function judgeAcrossSeeds(seeds: readonly number[], perSeed: readonly (readonly Finding[])[]): AcrossSeedsFinding[] {
  const ids = [...new Set(perSeed.flatMap((fs) => fs.map((f) => f.id)))];
  return ids.map((id) => {
    const rows = seeds.map((seed, i) => ({ seed, f: perSeed[i]!.find((x) => x.id === id) }));
    const first = rows.find((r) => r.f)!.f!;
    const per_seed: SeedVerdict[] = rows.map((r) => ({ seed: r.seed, value: r.f?.value ?? NaN, result: r.f?.result ?? 'n/a' }));
    const applicable = per_seed.filter((r) => r.result !== 'n/a').length;
    const passed = per_seed.filter((r) => r.result === 'pass').length;
    const fraction = applicable > 0 ? passed / applicable : null;
    const result: Finding['result'] = fraction === null ? 'n/a' : fraction >= SEED_PASS_FRACTION ? 'pass' : 'FAIL';
    return {
      id, claim: first.claim,
      value: fraction ?? NaN,
      threshold: `passes on >= ${SEED_PASS_FRACTION * 100} % of the seeds where it applies (per seed: ${first.threshold})`,
      pass: result === 'pass', result,
      why: `Judged on every seed (${seeds.length}); per seed: ${first.why}`,
      threshold_source: first.threshold_source,
      checks: per_seed.map((r) => ({ name: `seed ${r.seed}`, value: r.value, threshold: first.threshold, pass: r.result === 'pass' })),
      per_seed, passed_seeds: passed, applicable_seeds: applicable, pass_fraction: fraction,
    };
  });
}

/**
 * Where a one-layer run's +/- split settled: the logged step from which every active head keeps its
 * final signs (report/sign-split.ts), or null when its active heads end with one sign of w (not split;
 * also for H = 1 and runs without metrics).
 */
export function splitStep(dir: string): number | null {
  const m = readMetrics(dir);
  if (!m || m.dynamics.layers !== 1 || m.dynamics.heads < 2 || m.dynamics.nDyn < 1) return null;
  const { step, qk: w, ov: mu, heads: H, nDyn } = m.dynamics;
  const last = nDyn - 1;
  const signs = new Set<number>();
  for (let h = 0; h < H; h++) if (Math.abs(w[last * H + h]! * mu[last * H + h]!) > ACTIVE_HEAD_THRESHOLD) signs.add(Math.sign(w[last * H + h]!));
  if (signs.size < 2) return null;
  return step[settledIndex(w, mu, H)]!;
}

/** "9/10" (passed / applicable seeds), "n/a" where it applied on none. */
export const seedTally = (f: AcrossSeedsFinding): string => (f.applicable_seeds === 0 ? 'n/a' : `${f.passed_seeds}/${f.applicable_seeds}`);
