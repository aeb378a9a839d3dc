/** A report (e.g. a reproduction's report/): its findings, then report.html itself. */
import { useEffect, useState } from 'preact/hooks';
import { apiUrl, fmt, getJson, q, type ReportResponse } from '../api';
import { VegaChart } from '../chart';

/** "6 of 8 applicable findings pass (2 n/a)": n/a findings (the runs cannot test them) are neither passed nor failed. */
export function scoreLine(r: { passed: number; total: number; applicable: number }): string {
  const na = r.total - r.applicable;
  return `${r.passed} of ${r.applicable} applicable findings pass${na ? ` (${na} n/a)` : ''}`;
}

export function ReportView(props: { path: string }) {
  const [r, setR] = useState<ReportResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getJson<ReportResponse>(apiUrl.report(props.path)).then(setR).catch((e: Error) => setError(e.message));
  }, [props.path]);
  if (error) return <p class="error">{error}</p>;
  if (!r) return <p class="muted">Loading…</p>;
  const files = apiUrl.file(props.path);
  return (
    <div>
      <div class="toolbar">
        <h1>Report {props.path}</h1>
        <span class={r.passed === r.applicable && r.applicable > 0 ? 'pass' : 'fail'} data-testid="report-score">{scoreLine(r)}</span>
        <a class="button" href={`${files}/report.html`} target="_blank" rel="noopener">open report.html</a>
      </div>
      {r.error && <p class="error">{r.error}</p>}
      <table class="findings" data-testid="findings">
        <thead><tr><th>#</th><th>result</th><th>finding</th><th class="num">value</th><th>threshold</th><th>claim</th></tr></thead>
        <tbody>
          {r.findings.map((f, i) => (
            <tr key={f.id}>
              <td>{i + 1}</td>
              <td data-testid="finding-result"><span class={`badge ${f.result === 'pass' ? 'badge-completed' : f.result === 'n/a' ? 'badge-idle' : 'badge-failed'}`}>{f.result === 'pass' ? 'PASS' : f.result}</span>
                {f.result !== 'n/a' && f.thresholdSource === 'icl-lab runs' ? <span class="muted small" title="this threshold was set from icl-lab's own runs, not from the seed's code or the paper"> threshold from icl-lab runs</span> : null}</td>
              <td class="mono">{f.id}</td>
              <td class="num mono">{fmt(f.value)}</td>
              <td class="mono">{f.threshold}</td>
              <td class="small" title={f.why}>{f.claim}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="small">Runs: {r.runs.map((name, i) => {
        const p = r.runPaths[i];
        return p ? <a key={name} href={`#/run/${q(p)}`} class="runlink" data-testid="report-run">{p}</a> : <span key={name} class="runlink muted" title="not below the served folder">{name}</span>;
      })}{r.runPaths.filter(Boolean).length >= 2 && <> · <a href={`#/compare?${r.runPaths.filter((p): p is string => p !== null).map((p) => `path=${q(p)}`).join('&')}`}>compare them</a></>}</p>
      {r.eta && <VegaChart spec={r.eta} testId="report-eta" />}
      <iframe class="report" sandbox="" src={`${files}/report.html`} title="report.html" data-testid="report-frame" />
    </div>
  );
}
