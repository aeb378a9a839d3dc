/**
 * Numbers the authors printed in their notebooks (XintianPan/ICL_linear; docs/PAPER_EXPERIMENTS.md), quoted
 * so the report can put our measurements beside them. Single evaluations, not ground truth.
 */

/**
 * plots.ipynb `Est_comparison`: MSE against the noisy y_q, paper convention (sigma^2 = 0.1, d = 5),
 * 50,000 prompts per L, numpy draws (fresh per prompt). Keys are our method names of
 * analysis/estimator-methods.ts `paperComparisonSpecs`.
 */
export const AUTHORS_ESTIMATOR_COMPARISON = {
  samples: 50_000,
  lengths: [10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100],
  methods: {
    'multi-head-kernel': [0.6039, 0.4486, 0.3675, 0.3171, 0.2864, 0.2618, 0.2430, 0.2277, 0.2183, 0.2055, 0.1997, 0.1954, 0.1873, 0.1810, 0.1759, 0.1743, 0.1704, 0.1682, 0.1638],
    'single-head-kernel': [0.8754, 0.6911, 0.5859, 0.5204, 0.4711, 0.4319, 0.4048, 0.3893, 0.3721, 0.3487, 0.3389, 0.3340, 0.3191, 0.3109, 0.3016, 0.3019, 0.2929, 0.2865, 0.2844],
    gd: [0.6434, 0.4611, 0.3709, 0.3180, 0.2849, 0.2593, 0.2407, 0.2254, 0.2160, 0.2032, 0.1976, 0.1932, 0.1855, 0.1790, 0.1740, 0.1723, 0.1687, 0.1664, 0.1622],
    'debiased-gd-est': [0.6140, 0.4532, 0.3692, 0.3180, 0.2867, 0.2618, 0.2431, 0.2276, 0.2182, 0.2053, 0.1993, 0.1952, 0.1871, 0.1807, 0.1757, 0.1741, 0.1702, 0.1679, 0.1635],
    'ridge-est': [0.1938, 0.1510, 0.1346, 0.1245, 0.1215, 0.1164, 0.1146, 0.1125, 0.1107, 0.1096, 0.1087, 0.1085, 0.1080, 0.1068, 0.1056, 0.1067, 0.1065, 0.1065, 0.1041],
  } as Record<string, number[]>,
};

/** icl_linear.ipynb: the authors' trained runs at step 500,000 (single batches of 256). */
export const AUTHORS_PAPER_RUNS: Record<number, { train: number; val: number; w?: number[]; mu?: number[] }> = {
  1: { train: 0.3970, val: 0.4278 },
  2: { train: 0.2776, val: 0.2151, w: [0.13, -0.13], mu: [3.45, -3.45] },
};

/** icl_linear_multitask.ipynb: printed at step 500,000. */
export const AUTHORS_MULTITASK_RUNS: Record<number, { train: number; val: number }> = {
  3: { train: 0.4083, val: 0.3992 },
  4: { train: 0.3485, val: 0.4365 },
};
