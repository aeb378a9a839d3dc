/**
 * The authors' statement about multi-task heads (PAPER_EXPERIMENTS.md §5) as findings with thresholds:
 *
 *   split-up       (H >= 2N) every active head serves one task: its OV read-out sits on one task's
 *                  y_k -> output k entry and its QK diagonal stays off the other tasks' own coordinates;
 *                  and every task is served by two active heads whose w on the task's block has opposite signs
 *   superposition  (2 < H < 2N) some active head carries a substantial share of two tasks' read-outs
 *
 * Active: sum_k |mu_k w_k| > ACTIVE (mu_k = OV^h[d+k, k], w_k = mean QK^h diagonal on task k's block).
 */
import type { Check, Finding } from '../report/findings.js';
import type { MultiHeadCircuit } from './circuits.js';

export const MT_THRESHOLDS = {
  /** sum_k |mu_k w_k| above this: the head contributes (as the single-task 0.05). */
  active: 0.05,
  /** A single-task head: at most this share of its read-out on the other tasks. */
  singleOv: 0.1,
  /** ... and at most this share of its exclusive-coordinate QK diagonal mass on the other tasks' coordinates. */
  singleQk: 0.2,
  /** Superposition: some active head has at least this share on its second task's read-out. */
  superposed: 0.2,
} as const;

export interface MultitaskModelEvidence {
  name: string;
  heads: number;
  circuits: MultiHeadCircuit[];
}

const chk = (name: string, value: number, op: '<=' | '>=', limit: number): Check => ({ name, value, threshold: `${op} ${limit}`, pass: op === '<=' ? value <= limit : value >= limit });

function mkFinding(id: string, claim: string, why: string, checks: Check[]): Finding {
  const head = checks.find((c) => !c.pass) ?? checks[0];
  return { id, claim, why: checks.length ? why : `${why} (no model to check)`, checks, value: head ? head.value : NaN, threshold: head ? head.threshold : 'n/a', pass: checks.length > 0 && checks.every((c) => c.pass) };
}

export const activeHeads = (m: MultitaskModelEvidence) => m.circuits.filter((c) => c.strength > MT_THRESHOLDS.active);

/** The task a head serves most (argmax of its read-out share). */
export const mainTask = (c: MultiHeadCircuit) => c.ovShare.indexOf(Math.max(...c.ovShare));

export function splitUpFinding(models: readonly MultitaskModelEvidence[], N: number): Finding {
  const checks: Check[] = [];
  for (const m of models.filter((m) => m.heads >= 2 * N)) {
    const act = activeHeads(m);
    let worstOv = 0, worstQk = 0;
    for (const c of act) {
      const t = mainTask(c);
      worstOv = Math.max(worstOv, 1 - c.ovShare[t]!);
      worstQk = Math.max(worstQk, 1 - c.qkExclusive[t]!);
    }
    checks.push(chk(`${m.name}: active heads (${act.map((c) => c.head + 1).join(', ')})`, act.length, '>=', 2 * N));
    checks.push(chk(`${m.name}: max over active heads of the read-out share on other tasks`, worstOv, '<=', MT_THRESHOLDS.singleOv));
    checks.push(chk(`${m.name}: max over active heads of the QK diagonal share on other tasks' own coordinates`, worstQk, '<=', MT_THRESHOLDS.singleQk));
    for (let k = 0; k < N; k++) {
      const serving = act.filter((c) => mainTask(c) === k);
      const pos = serving.filter((c) => c.wTask[k]! > 0).length;
      const neg = serving.filter((c) => c.wTask[k]! < 0).length;
      checks.push(chk(`${m.name}: task ${k + 1} served by heads ${serving.map((c) => `${c.head + 1} (w ${c.wTask[k]!.toFixed(2)}, mu ${c.muTask[k]!.toFixed(2)})`).join(', ') || 'none'}: min(#w>0, #w<0)`, Math.min(pos, neg), '>=', 1));
    }
  }
  return mkFinding(
    'multitask-split-up',
    'With enough heads (H >= 2N) each active head learns exactly one task: its QK diagonal on that task\'s coordinates, its OV on that task\'s y -> output entry, two heads per task with opposite signs.',
    `Thresholds from our runs (docs/readme/paper.md): a single-task head keeps <= ${MT_THRESHOLDS.singleOv * 100} % of its read-out and <= ${MT_THRESHOLDS.singleQk * 100} % of its exclusive-coordinate QK diagonal mass on the other task; active: sum_k |mu_k w_k| > ${MT_THRESHOLDS.active}.`,
    checks,
  );
}

export function superpositionFinding(models: readonly MultitaskModelEvidence[], N: number): Finding {
  const checks: Check[] = [];
  for (const m of models.filter((m) => m.heads > 2 && m.heads < 2 * N)) {
    const act = activeHeads(m);
    let best = 0, who = -1;
    for (const c of act) {
      const second = [...c.ovShare].sort((a, b) => b - a)[1] ?? 0;
      if (second > best) { best = second; who = c.head; }
    }
    checks.push(chk(`${m.name}: largest second-task share of an active head's read-out${who >= 0 ? ` (head ${who + 1})` : ''}`, best, '>=', MT_THRESHOLDS.superposed));
  }
  return mkFinding(
    'multitask-superposition',
    'With 2 < H < 2N heads some head serves two tasks at once (superposition): a substantial share of its OV read-out on each.',
    `The authors' H = 3 head carries y1 -> out 1 about +2 and y2 -> out 2 about -5 (shares 0.29 / 0.71); a split-up head has a second share near 0. ${MT_THRESHOLDS.superposed} separates the two (docs/readme/paper.md).`,
    checks,
  );
}
