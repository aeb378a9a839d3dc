/** Compare: curves of the selected runs overlaid; their circuits side by side at one step. */
import { useMemo, useState } from 'preact/hooks';
import { afterSteps, apiUrl, int, q, useLiveJson, type CompareResponse } from '../api';
import { VegaChart } from '../chart';
import { Heatmaps, type SnapshotSet } from '../heatmaps';
import { runColor } from '../../../src/serve/figures.js';
import { StepSlider } from './run';
import { StatusBadge } from './runs';

/** Index of the last snapshot at or before `step` (the first one if none). */
function atStep(s: SnapshotSet, step: number): number {
  let k = 0;
  for (let i = 0; i < s.step.length; i++) if (s.step[i]! <= step) k = i;
  return k;
}

export function CompareView(props: { paths: string[] }) {
  const [index, setIndex] = useState(-1);
  const { data, error } = useLiveJson<CompareResponse>(apiUrl.compare(props.paths, 0.6), (e) => e.event === 'run' && props.paths.includes(e.data.path));
  const steps = useMemo(() => {
    const all = new Set<number>();
    for (const r of data?.runs ?? []) for (const s of r.snapshots?.step ?? []) all.add(s);
    return [...all].sort((a, b) => a - b);
  }, [data]);
  if (props.paths.length < 1) return <p>Pick runs in the <a href="#/">runs table</a> to compare.</p>;
  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="muted">Loading…</p>;
  const shown = index < 0 || index >= steps.length ? steps.length - 1 : index;
  const step = steps[shown] ?? 0;
  return (
    <div>
      <div class="toolbar"><h1>Compare {data.runs.length} runs</h1></div>
      <ul class="inline">
        {data.runs.map((r, i) => <li key={r.path}><span class="swatch" style={{ background: runColor(i) }} data-testid="run-swatch" /><a href={`#/run/${q(r.path)}`}>{r.path}</a> <StatusBadge status={r.row.status} stale={r.row.stale} /> <span class="muted small">step {int(r.row.step)}, H = {r.row.heads}, {r.row.differs.join(', ')}</span></li>)}
      </ul>
      <section>
        <h2>Loss</h2>
        {data.loss ? <VegaChart spec={data.loss} testId="compare-loss" /> : <p class="muted">No losses yet.</p>}
      </section>
      <section>
        <h2>w<sup>h</sup>(t) and μ<sup>h</sup>(t) <span class="muted small">one colour per run, a shade of it per head (darkest: head 1)</span></h2>
        {data.dynamics ? <VegaChart spec={data.dynamics} testId="compare-dynamics" /> : <p class="muted">No dynamics yet.</p>}
      </section>
      <section>
        <h2>Circuits side by side</h2>
        {steps.length > 0 ? (
          <>
            <StepSlider steps={steps} index={shown} onIndex={(i) => setIndex(i >= steps.length - 1 ? -1 : i)} />
            <div class="side-by-side">
              {data.runs.map((r, i) => r.snapshots ? (
                <div key={r.path} class="column" style={{ borderLeftColor: runColor(i) }}>
                  <h3>{r.path} <span class="muted small">snapshot {afterSteps(r.snapshots.step[atStep(r.snapshots, step)] ?? 0)}</span></h3>
                  <Heatmaps snapshots={r.snapshots} index={atStep(r.snapshots, step)} cell={26} testId="compare-heatmaps" />
                </div>
              ) : <div key={r.path} class="column muted">{r.path}: no snapshots</div>)}
            </div>
          </>
        ) : <p class="muted">No snapshots yet.</p>}
      </section>
    </div>
  );
}
