/**
 * Min / max / mean per bucket, so a 500k-step loss curve becomes ~1000 points whose band still
 * shows every spike. Pure: typed array in, plain rows out.
 */

export interface Bucket {
  /** Centre of the bucket in x units. */
  x: number;
  min: number;
  max: number;
  mean: number;
  /** Finite values that fell in the bucket. */
  count: number;
}

/**
 * Split `values` (x = `xs[i]`, or the index i) into `buckets` contiguous index ranges of equal
 * length and summarise each. Non-finite values (a diverged run) are skipped; a bucket with none is
 * dropped. With `positiveOnly`, values <= 0 are skipped too (for log axes).
 * When there are no more values than buckets every value is its own bucket (min = max = mean).
 */
export function downsampleMinMax(
  values: ArrayLike<number>,
  buckets: number,
  xs?: ArrayLike<number>,
  positiveOnly = false,
): Bucket[] {
  const n = values.length;
  if (xs !== undefined && xs.length !== n) {
    throw new Error(`downsampleMinMax: xs has ${xs.length} entries, values has ${n}`);
  }
  if (!(buckets >= 1)) throw new Error(`downsampleMinMax: buckets must be >= 1, got ${buckets}`);
  const nb = Math.min(n, Math.floor(buckets));
  const out: Bucket[] = [];
  for (let b = 0; b < nb; b++) {
    const lo = Math.floor((b * n) / nb);
    const hi = Math.floor(((b + 1) * n) / nb); // exclusive
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let count = 0;
    for (let i = lo; i < hi; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      count++;
    }
    if (count === 0) continue;
    const x0 = xs ? xs[lo]! : lo;
    const x1 = xs ? xs[hi - 1]! : hi - 1;
    out.push({ x: (x0 + x1) / 2, min, max, mean: sum / count, count });
  }
  return out;
}
