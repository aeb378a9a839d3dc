/** The reproduction's presets (kept apart from reproduce.ts so the CLI can show them without loading the renderer). */
export const REPRODUCE_HEADS = [2, 1, 4, 8] as const;
/** Quick preset: every H is on its loss plateau by 20k steps (REFERENCE_RUNS.md). */
export const QUICK_STEPS = 20_000;
/** The notebook's run length. */
export const FULL_STEPS = 500_001;
