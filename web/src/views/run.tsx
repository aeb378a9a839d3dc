/** One run: loss (smoothing + min–max envelope), w^h/μ^h/η_TF, heatmaps with one step slider, statistics, error vs L. Live. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { afterSteps, apiUrl, fmt, getJson, int, SHIFT_KINDS, SHIFT_QUERIES, SHIFT_VALUES, useLiveJson, type Analysis, type RunDetail, type ShiftedEvaluation, type ShiftKind } from '../api';
import { VegaChart, type Spec } from '../chart';
import { hashQuery, writeHashQuery } from '../playground/url';
import { Heatmaps } from '../heatmaps';
import { StatusBadge, Tags } from './runs';

/** One step slider over the snapshots, with play; stays at the newest snapshot while a run grows if it was there. */
export function StepSlider(props: { steps: number[]; index: number; onIndex: (i: number) => void; testId?: string }) {
  const { steps, index, onIndex } = props;
  const [playing, setPlaying] = useState(false);
  const ref = useRef({ index, n: steps.length });
  ref.current = { index, n: steps.length };
  useEffect(() => {
    if (!playing) return;
    const t = setInterval(() => {
      const { index: i, n } = ref.current;
      if (i >= n - 1) setPlaying(false);
      else onIndex(i + 1);
    }, 350);
    return () => clearInterval(t);
  }, [playing]);
  const n = steps.length;
  return (
    <div class="slider-row">
      <button onClick={() => {
        if (!playing && index >= n - 1) onIndex(0);
        setPlaying(!playing);
      }} data-testid="play">{playing ? '❚❚ pause' : '▶ play'}</button>
      <input type="range" min={0} max={Math.max(0, n - 1)} step={1} value={index} onInput={(e) => onIndex(Number((e.target as HTMLInputElement).value))} data-testid={props.testId ?? 'step-slider'} aria-label="snapshot step" />
      <span class="mono" data-testid="slider-step" title="weights after this many training steps (snapshot_step + 1)">{afterSteps(steps[index] ?? 0)}</span>
      <span class="muted small">snapshot {index + 1} of {n}</span>
    </div>
  );
}

export function RunView(props: { path: string }) {
  const [smooth, setSmooth] = useState(0.9);
  const [index, setIndex] = useState(-1); // -1 = follow the newest snapshot
  const { data: detail, error } = useLiveJson<RunDetail>(apiUrl.run(props.path, smooth), (e) => e.event === 'run' && e.data.path === props.path);
  if (error) return <p class="error">{props.path}: {error}</p>;
  if (!detail) return <p class="muted">Loading {props.path}…</p>;
  const { row, analysis, snapshots } = detail;
  const c = detail.run.config;
  const n = snapshots?.step.length ?? 0;
  const shown = index < 0 || index >= n ? n - 1 : index;
  return (
    <div>
      <div class="toolbar">
        <h1 data-testid="run-title">{row.label ?? row.name}{row.label ? <span class="muted small mono"> {row.name}</span> : null}</h1>
        <StatusBadge status={row.status} stale={row.stale} />
        <span class="mono" data-testid="run-step">step {int(row.step)} / {int(row.steps)}</span>
        <span class="muted">{row.stepsPerSecond !== null ? `${int(row.stepsPerSecond)} steps/s` : ''}</span>
        <span>
          {row.heldOut ? <>held-out loss <b class="mono" data-testid="run-held-out">{fmt(row.heldOut.mse)} ± {fmt(row.heldOut.stderr)}</b> <span class="muted small">({int(row.heldOut.samples)} prompts, final model) · </span></> : null}
          batch loss <span class="mono" data-testid="run-loss" title="the last training batch (batch_size prompts)">{fmt(row.trainLoss)}</span>{detail.lastVal ? <> · val. batch {fmt(detail.lastVal.loss)} <span class="muted" title="metrics.safetensors val_step is the 0-based index of the step after which it was measured">after {int(detail.lastVal.step + 1)} steps</span></> : null}
        </span>
      </div>
      {row.tags.length > 0 || row.note ? (
        <div class="run-labels">
          <Tags tags={row.tags} />
          {row.note ? <p class="note" data-testid="run-note">{row.note}</p> : null}
        </div>
      ) : null}
      <p class="muted small config">
        {c['attention'] && c['attention'] !== 'softmax' ? <b data-testid="run-attention">{String(c['attention'])} attention, </b> : null}
        {Number(c['task_pool']) > 0 ? <>task pool M = {String(c['task_pool'])}, </> : null}{Number(c['sparsity']) > 0 ? <>{String(c['sparsity'])}-sparse β, </> : null}
        H = {String(c['heads'])}, d = {String(c['d'])}, {c['tasks'] ? <>tasks {String(c['tasks'])} (n_out = {String(c['n_out'])}), </> : null}L = {String(c['context_length'])}, {String(c['layers'])} layer(s), preset {String(c['preset'])}, noise_std {String(c['noise_std'])}, init {String(c['init'])}, {String(c['optimizer'])} lr {String(c['lr'])}, batch {String(c['batch_size'])}, seed {String(c['seed'])}, engine {String(c['engine'] ?? 'ts')}
        {row.failure ? <span class="error"> · failed: {row.failure}</span> : null}
      </p>
      <section>
        <h2>Loss</h2>
        <label class="small control">smoothing (EMA) <input type="range" min={0} max={0.99} step={0.01} value={smooth} onChange={(e) => setSmooth(Number((e.target as HTMLInputElement).value))} data-testid="smoothing" /> <span class="mono">{smooth.toFixed(2)}</span></label>
        {detail.loss ? <VegaChart spec={detail.loss} testId="loss-chart" /> : <p class="muted">No loss logged yet.</p>}
      </section>
      <section>
        <h2>Circuit dynamics{detail.dynamicsPerTask ? <>: w<sup>h</sup><sub>k</sub>(t) and μ<sup>h</sup><sub>k</sub>(t) per task</> : null}</h2>
        <div class="row">
          {detail.dynamics ? <VegaChart spec={detail.dynamics} testId="dynamics-chart" /> : <p class="muted">No dynamics logged yet.</p>}
          {detail.eta ? <VegaChart spec={detail.eta} testId="eta-chart" /> : null}
        </div>
      </section>
      <section>
        <h2>QK<sup>h</sup> and OV<sup>h</sup> of every head</h2>
        {snapshots && n > 0 ? (
          <>
            <StepSlider steps={snapshots.step} index={shown} onIndex={(i) => setIndex(i >= n - 1 ? -1 : i)} />
            <Heatmaps snapshots={snapshots} index={shown} />
            {snapshots.outputs > 1 && snapshots.ovColumns === 1 ? <p class="muted small" data-testid="ov-one-column">This run was written by an earlier build: its snapshots hold only the last output's OV<sup>h</sup> column; the whole OV<sup>h</sup> (E × {snapshots.outputs}) of the saved weights is below.</p> : null}
            {snapshots.outputs > 1 && snapshots.ovColumns > 1 ? <p class="muted small">OV<sup>h</sup> whole: row y<sub>k</sub>, column out k is task k's read-out μ<sup>h</sup><sub>k</sub>.</p> : null}
          </>
        ) : <p class="muted">No snapshots yet.</p>}
      </section>
      {detail.multitask && (
        <section>
          <h2>Multi-task circuits: QK<sup>h</sup> (E × E) and OV<sup>h</sup> (E × N) of the saved weights</h2>
          <VegaChart spec={detail.multitask} testId="multitask-circuits" />
        </section>
      )}
      {analysis && <Statistics a={analysis} step={analysis.step} live={row.status === 'running' && !row.stale} attention={String(c['attention'] ?? 'softmax')} />}
      {(detail.evaluation || (analysis && !c['tasks'])) && <ErrorVsLength path={props.path} evaluation={detail.evaluation} />}
    </div>
  );
}

/** The value a shift kind starts at when picked. */
const SHIFT_START: Record<ShiftKind, string> = { 'x-scale': '2', 'beta-scale': '2', 'noise-std': '0.1', rho: '0.5', query: 'opposite-orthant' };

type ShiftChoice = { shift: ShiftKind | 'none'; value: string };

/** The shift the hash names (#/run/P?shift=x-scale&value=2); none when it names no known kind. */
function shiftFromHash(): ShiftChoice {
  const q = new URLSearchParams(hashQuery());
  const s = q.get('shift') as ShiftKind | null;
  if (s === null || !SHIFT_KINDS.includes(s)) return { shift: 'none', value: '' };
  return { shift: s, value: q.get('value') ?? SHIFT_START[s] };
}

/**
 * Error against L: the run's evaluation (evaluation.json), or with a shift picked, the model and the
 * estimators measured on shifted prompts by api/evaluate (the numbers of the evaluate command shown).
 * The shift is kept in the hash, so a copied link opens the same curve.
 */
function ErrorVsLength(props: { path: string; evaluation: Spec | null }) {
  const [sel, setSel] = useState<ShiftChoice>(shiftFromHash);
  const [data, setData] = useState<ShiftedEvaluation | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    writeHashQuery(sel.shift === 'none' ? '' : new URLSearchParams({ shift: sel.shift, value: sel.value }).toString());
    setData(null);
    setError(null);
    if (sel.shift === 'none') return;
    let live = true;
    getJson<ShiftedEvaluation>(apiUrl.evaluate(props.path, sel.shift, sel.value)).then((d) => live && setData(d), (e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [props.path, sel.shift, sel.value]);
  const ood = data ? data.result.models.filter((m) => m.out_of_distribution) : [];
  const trained = (t: ShiftedEvaluation['result']['models'][number]['trained_task']) => (t ? `d=${t.d}, preset ${t.preset}, noise_std ${t.noise_std}, rho ${t.rho}` : 'a task not recorded');
  return (
    <section data-testid="error-vs-length">
      <h2 data-testid="evaluation-title">Error against context length{data ? <>, shifted prompts: {data.label}</> : null}</h2>
      <div class="small control">
        <label>shifted prompts <select value={sel.shift} onChange={(e) => {
          const k = (e.target as HTMLSelectElement).value as ShiftKind | 'none';
          setSel({ shift: k, value: k === 'none' ? '' : SHIFT_START[k] });
        }} data-testid="shift-kind">
          <option value="none">none (the run's evaluation)</option>
          {SHIFT_KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
        </select></label>{' '}
        {sel.shift === 'query' ? (
          <select value={sel.value} onChange={(e) => setSel({ shift: 'query', value: (e.target as HTMLSelectElement).value })} data-testid="shift-value" aria-label="query shift">
            {SHIFT_QUERIES.map((v) => <option key={v} value={v}>{v}</option>)}
          </select>
        ) : sel.shift !== 'none' ? (
          <label>value <input type="number" step="any" value={sel.value} onChange={(e) => setSel({ shift: sel.shift, value: (e.target as HTMLInputElement).value })} data-testid="shift-value" class="mono" style="width: 7em" /> <span class="muted">{SHIFT_VALUES[sel.shift]}</span></label>
        ) : null}
      </div>
      {sel.shift === 'none' ? (
        props.evaluation ? <VegaChart spec={props.evaluation} testId="evaluation-chart" /> : <p class="muted">No evaluation of this run yet (icl-lab evaluate RUN --out RUN/evaluation.json); pick a shift to measure the model here.</p>
      ) : error ? <p class="error" data-testid="shift-error">{error}</p> : !data ? <p class="muted" data-testid="shift-loading">Measuring on shifted prompts…</p> : (
        <>
          {ood.map((m) => <p key={m.name} class="small" data-testid="shift-ood"><b>{m.name}: OUT OF DISTRIBUTION</b>, trained on {trained(m.trained_task)}</p>)}
          <VegaChart spec={data.evaluation} testId="shift-chart" />
          <p class="muted small">{data.result.samples.toLocaleString('en-US')} prompts per L, seed {data.result.seed}; the same numbers: <code data-testid="shift-command">{data.command}</code> (from the served folder)</p>
        </>
      )}
    </section>
  );
}

function Statistics(props: { a: Analysis; step: number | null; live: boolean; attention: string }) {
  const linear = props.attention !== 'softmax';
  const a = props.a;
  const title = `Statistics of the ${props.live ? 'latest saved' : 'final'} weights${props.step !== null ? ` (step ${int(props.step)})` : ''}`;
  if (a.note) return <section><h2>{title}</h2><p class="muted">{a.note}</p></section>;
  const g = a.groups;
  return (
    <section data-testid="statistics">
      <h2>{title}</h2>
      <div class="row">
        <table class="stats">
          <thead><tr><th>head</th><th class="num">w^h</th><th class="num">μ^h</th><th class="num">var diag</th><th class="num">sup off-diag</th><th class="num">sup OV[:d]</th></tr></thead>
          <tbody>
            {a.heads.map((h) => (
              <tr key={h.head} class={g.dummy.includes(h.head) ? 'muted' : ''}>
                <td>{h.head + 1}{g.dummy.includes(h.head) ? ' (dummy)' : ''}</td>
                <td class="num">{fmt(h.w)}</td><td class="num">{fmt(h.mu)}</td><td class="num">{fmt(h.varDiag)}</td><td class="num">{fmt(h.supOffDiag)}</td><td class="num">{fmt(h.supOv)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <dl class="facts">
          <dt>η_TF = Σ μ^h w^h</dt><dd class="mono" data-testid="eta-tf">{fmt(a.etaTF)}</dd>
          <dt>L/(L+d)</dt><dd class="mono">{fmt(a.ratio)}</dd>
          <dt>tuned GD η*</dt><dd class="mono">{fmt(a.etaStar)}</dd>
          <dt>head groups</dt>
          <dd>active {g.active.map((h) => h + 1).join(', ') || 'none'}; dummy {g.dummy.map((h) => h + 1).join(', ') || 'none'}<br />
            {g.signGroups.map((s) => <span key={s.sign}>w {s.sign > 0 ? '≥ 0' : '< 0'}: heads {s.heads.map((h) => h + 1).join(', ')}, total μ {fmt(s.totalMu, 3)}<br /></span>)}
          </dd>
          {a.kernelGap && <>
            <dt>kernel gap</dt>
            <dd><span class="mono" data-testid="kernel-gap">{fmt(a.kernelGap.relative)}</span> <span class="muted small">relative MSE model vs {linear ? `the softmax kernel estimator (a reference only: this is a ${props.attention}-attention model; its gap to the GD construction is in icl-lab analyze)` : 'kernel estimator'}, {int(a.kernelGap.samples)} prompts at L = {a.kernelGap.L}, seed {a.kernelGap.seed} (those of <code>evaluate --seed {a.kernelGap.seed} --samples {a.kernelGap.samples}</code>); model MSE <span data-testid="kernel-gap-mse">{fmt(a.kernelGap.modelMse)} ± {fmt(a.kernelGap.modelStderr)}</span>, kernel {fmt(a.kernelGap.kernelMse)} ± {fmt(a.kernelGap.kernelStderr)}</span></dd>
          </>}
        </dl>
      </div>
    </section>
  );
}
