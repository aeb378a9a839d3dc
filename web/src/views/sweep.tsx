/** A sweep folder (sweep.json, runs/<name>/, results.csv): its results table, parallel coordinates and runs. */
import { useMemo, useState } from 'preact/hooks';
import { apiUrl, q, useLiveJson, type SweepSummary } from '../api';
import { VegaChart } from '../chart';

export function SweepView(props: { path: string }) {
  const [sort, setSort] = useState<{ key: string; dir: 1 | -1 } | null>(null);
  const { data: s, error } = useLiveJson<SweepSummary>(apiUrl.sweep(props.path), () => true);
  const rows = useMemo(() => {
    if (!s || !sort) return s?.rows ?? [];
    return [...s.rows].sort((a, b) => {
      const x = a[sort.key] ?? '';
      const y = b[sort.key] ?? '';
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true })) * sort.dir;
    });
  }, [s, sort]);
  if (error) return <p class="error">{error}</p>;
  if (!s) return <p class="muted">Loading…</p>;
  const prefix = s.path === '.' ? '' : `${s.path}/`;
  return (
    <div>
      <div class="toolbar"><h1>Sweep {s.path}</h1><span class="muted">{s.runs.length} runs{s.rows.length ? `, ${s.rows.length} results` : ', no results.csv yet'}</span></div>
      {s.error && <p class="error">{s.error}</p>}
      <div class="row">
        {s.parallel && <section><h2>Parallel coordinates</h2><VegaChart spec={s.parallel} testId="sweep-parallel" /></section>}
        {s.eta && <section><h2>η_TF against L/(L+d)</h2><VegaChart spec={s.eta} testId="sweep-eta" /></section>}
      </div>
      {s.rows.length > 0 && (
        <section>
          <h2>results.csv</h2>
          <p class="muted small">{s.columns.length} columns that vary (the swept axes and the model's MSE first){Object.keys(s.constants).length ? `; ${Object.keys(s.constants).length} the same in every row, below` : ''}. Click a header to sort.</p>
          <div class="scroll-box">
          <table class="runs" data-testid="sweep-results">
            <thead><tr>{s.columns.map((k) => <th key={k} class="sortable" onClick={() => setSort({ key: k, dir: sort?.key === k ? (-sort.dir as 1 | -1) : 1 })}>{k}{sort?.key === k ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}</th>)}</tr></thead>
            <tbody>{rows.map((r, i) => <tr key={i}>{s.columns.map((k) => {
              const v = r[k];
              const run = k === 'name' || k === 'run' ? s.runs.find((p) => p === `${prefix}runs/${v}` || p.endsWith(`/${v}`)) : undefined;
              return <td key={k} class={typeof v === 'number' ? 'num' : ''}>{run ? <a href={`#/run/${q(run)}`}>{String(v)}</a> : typeof v === 'number' ? Number(v.toPrecision(5)) : String(v ?? '')}</td>;
            })}</tr>)}</tbody>
          </table>
          </div>
          {Object.keys(s.constants).length > 0 && (
            <details data-testid="sweep-constants"><summary>the same in every row ({Object.keys(s.constants).length} columns)</summary>
              <p class="small">{Object.entries(s.constants).map(([k, v]) => <span key={k} class="constant">{k} = {typeof v === 'number' ? Number(v.toPrecision(5)) : String(v ?? '')}</span>)}</p>
            </details>
          )}
        </section>
      )}
      <section>
        <h2>Runs</h2>
        <p>{s.runs.map((p) => <a key={p} class="runlink" href={`#/run/${q(p)}`}>{p.slice(prefix.length)}</a>)}</p>
        {s.runs.length >= 2 && <a class="button" href={`#/compare?${s.runs.slice(0, 8).map((p) => `path=${q(p)}`).join('&')}`}>compare {Math.min(8, s.runs.length)} runs</a>}
      </section>
      {s.sweep && <details><summary>sweep.json</summary><pre class="json small">{JSON.stringify(s.sweep, null, 2).slice(0, 20000)}</pre></details>}
    </div>
  );
}
