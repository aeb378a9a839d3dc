/**
 * Overlay: one metric (training loss, validation loss, η_TF) of many runs on one chart, a colour
 * per run and a legend naming each; below, the runs with their colour, last value and held-out loss.
 * `#/overlay?path=a&path=b&metric=loss` (at most MAX_OVERLAY runs, as api/overlay).
 */
import { useState } from 'preact/hooks';
import { apiUrl, fmt, int, MAX_OVERLAY, OVERLAY_METRIC_LABELS, OVERLAY_METRICS, q, useLiveJson, type OverlayMetric, type OverlayResponse } from '../api';
import { VegaChart } from '../chart';
import { HeldOut, StatusBadge, Tags } from './runs';

export function OverlayView(props: { paths: string[]; metric: string }) {
  const metric = ((OVERLAY_METRICS as readonly string[]).includes(props.metric) ? props.metric : 'loss') as OverlayMetric;
  const [smooth, setSmooth] = useState(0.9);
  const paths = props.paths.slice(0, MAX_OVERLAY);
  const { data, error } = useLiveJson<OverlayResponse>(apiUrl.overlay(paths, metric, smooth), (e) => e.event === 'run' && paths.includes(e.data.path));
  if (props.paths.length < 1) return <p>Pick runs in the <a href="#/">runs table</a> (or a group's “overlay” link) to overlay.</p>;
  const go = (m: string) => {
    location.hash = '#/overlay?' + paths.map((p) => `path=${q(p)}`).join('&') + `&metric=${m}`;
  };
  return (
    <div>
      <div class="toolbar">
        <h1>Overlay {paths.length} run{paths.length === 1 ? '' : 's'}</h1>
        <label class="small">metric <select value={metric} onChange={(e) => go((e.target as HTMLSelectElement).value)} data-testid="overlay-metric">
          {OVERLAY_METRICS.map((m) => <option key={m} value={m}>{OVERLAY_METRIC_LABELS[m]}</option>)}
        </select></label>
        {metric === 'loss' ? <label class="small">smoothing (EMA) <input type="range" min={0} max={0.99} step={0.01} value={smooth} onChange={(e) => setSmooth(Number((e.target as HTMLInputElement).value))} data-testid="overlay-smoothing" /> <span class="mono">{smooth.toFixed(2)}</span></label> : null}
        {props.paths.length > MAX_OVERLAY ? <span class="error small">only the first {MAX_OVERLAY} of {props.paths.length} runs are drawn</span> : null}
      </div>
      {error ? <p class="error">{error}</p> : !data ? <p class="muted">Loading…</p> : (
        <>
          <section>
            {data.chart ? <VegaChart spec={data.chart} testId="overlay-chart" /> : <p class="muted">None of these runs has logged {OVERLAY_METRIC_LABELS[metric]} yet.</p>}
          </section>
          <section>
            <div class="scroll-box">
              <table class="runs overlay-runs" data-testid="overlay-runs">
                <thead><tr><th>run</th><th>status</th><th class="num">step</th><th class="num">last {metric === 'eta' ? 'η_TF' : metric === 'val_loss' ? 'val. batch' : 'loss (bucket mean)'}</th><th class="num" title="the final model on held-out prompts ± s.e. (run.json final_validation)">held-out loss</th><th>differs from the others</th></tr></thead>
                <tbody>
                  {data.runs.map((r) => (
                    <tr key={r.path} data-testid="overlay-run">
                      <td class="run-cell">
                        <span class="swatch" style={{ background: r.color }} data-testid="overlay-swatch" />
                        <a href={`#/run/${q(r.path)}`}>{r.label}</a>
                        {r.row.label && r.label === r.row.label ? <span class="muted small mono"> {r.path}</span> : null}
                        <Tags tags={r.row.tags} />
                      </td>
                      <td><StatusBadge status={r.row.status} stale={r.row.stale} /></td>
                      <td class="num">{int(r.row.step)}</td>
                      <td class="num">{r.points > 0 ? fmt(r.last) : <span class="muted small">{r.why ?? '–'}</span>}</td>
                      <td class="num"><HeldOut v={r.row.heldOut} /></td>
                      <td class="differs">{r.row.differs.join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
    </div>
  );
}
