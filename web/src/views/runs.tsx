/** The runs table: every run below DIR, live, sortable, filterable; pick runs to compare. Reports and sweeps below. */
import { useMemo, useState } from 'preact/hooks';
import { apiUrl, fmt, int, q, useLiveJson, type IndexResponse, type RunRow } from '../api';
import { scoreLine } from './report';

type Key = 'name' | 'status' | 'step' | 'stepsPerSecond' | 'trainLoss' | 'valLoss' | 'heads' | 'd' | 'L' | 'preset' | 'optimizer' | 'lr' | 'differs';
const COLUMNS: { key: Key; label: string; num?: boolean }[] = [
  { key: 'name', label: 'run' }, { key: 'status', label: 'status' }, { key: 'step', label: 'step', num: true },
  { key: 'stepsPerSecond', label: 'steps/s', num: true }, { key: 'trainLoss', label: 'loss', num: true }, { key: 'valLoss', label: 'val. loss', num: true },
  { key: 'heads', label: 'H', num: true }, { key: 'd', label: 'd', num: true }, { key: 'L', label: 'L', num: true },
  { key: 'preset', label: 'preset' }, { key: 'optimizer', label: 'optim.' }, { key: 'lr', label: 'lr', num: true }, { key: 'differs', label: 'differs from the others' },
];

export function StatusBadge(props: { status: string; stale?: boolean }) {
  const s = props.stale ? 'stopped' : props.status;
  return <span class={`badge badge-${s}`} title={props.stale ? 'run.json says running, but no process is training it (resume with icl-lab train --resume)' : s}>{s}</span>;
}

/** The runs, reports and sweeps, refetched on every live event (a run moved, a run appeared). */
export function useIndex(): { data: IndexResponse | null; error: string | null } {
  return useLiveJson<IndexResponse>(apiUrl.index(), () => true);
}

export function RunsView() {
  const { data, error } = useIndex();
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 }>({ key: 'name', dir: 1 });
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const rows = useMemo(() => {
    if (!data) return [];
    const f = filter.trim().toLowerCase();
    const words = f.split(/\s+/).filter(Boolean);
    const keep = data.runs.filter((r) => words.every((w) => `${r.name} ${r.status} ${r.preset} ${r.optimizer} H=${r.heads} d=${r.d} L=${r.L} ${r.differs.join(' ')}`.toLowerCase().includes(w)));
    const val = (r: RunRow): string | number => (sort.key === 'differs' ? r.differs.join(' ') : (r[sort.key] as string | number | null) ?? '');
    return keep.sort((a, b) => {
      const x = val(a);
      const y = val(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true });
      return c * sort.dir;
    });
  }, [data, filter, sort]);
  if (error) return <p class="error">Could not load the runs: {error}</p>;
  if (!data) return <p class="muted">Loading…</p>;
  const toggle = (p: string) => {
    const next = new Set(picked);
    if (next.has(p)) next.delete(p);
    else next.add(p);
    setPicked(next);
  };
  const compare = '#/compare?' + [...picked].map((p) => `path=${q(p)}`).join('&');
  return (
    <div>
      <div class="toolbar">
        <h1>Runs <span class="muted small">{data.runs.length} below {data.root}</span></h1>
        <input class="filter" type="search" placeholder="filter: h2 running adam heads=4 …" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} data-testid="filter" />
        <a class={`button ${picked.size >= 2 ? '' : 'disabled'}`} href={picked.size >= 2 ? compare : undefined} data-testid="compare-button">Compare {picked.size > 0 ? `(${picked.size})` : ''}</a>
      </div>
      {data.runs.length === 0 ? (
        <p class="muted">No run directories here yet. Train one: <code>icl-lab train --out {data.root}/h2 --steps 20000</code>, or try the <a href="#/playground">playground</a>.</p>
      ) : (
        <table class="runs" data-testid="runs-table">
          <thead>
            <tr>
              <th></th>
              {COLUMNS.map((c) => (
                <th key={c.key} class={`${c.num ? 'num' : ''} sortable`} onClick={() => setSort({ key: c.key, dir: sort.key === c.key ? (-sort.dir as 1 | -1) : c.num ? -1 : 1 })}>
                  {c.label}{sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.path} data-testid="run-row" data-path={r.path}>
                <td><input type="checkbox" checked={picked.has(r.path)} onChange={() => toggle(r.path)} aria-label={`select ${r.name}`} /></td>
                <td><a href={`#/run/${q(r.path)}`}>{r.name}</a>{r.error ? <span class="error small"> {r.error}</span> : null}</td>
                <td><StatusBadge status={r.status} stale={r.stale} /></td>
                <td class="num" data-testid="step">
                  {int(r.step)}<span class="muted"> / {int(r.steps)}</span>
                  <div class="progress"><div style={{ width: `${r.steps > 0 ? Math.min(100, (100 * r.step) / r.steps) : 0}%` }} /></div>
                </td>
                <td class="num">{r.stepsPerSecond === null ? '–' : int(r.stepsPerSecond)}</td>
                <td class="num">{fmt(r.trainLoss)}</td>
                <td class="num">{fmt(r.valLoss)}</td>
                <td class="num">{r.heads ?? '–'}</td>
                <td class="num">{r.d ?? '–'}</td>
                <td class="num">{r.L ?? '–'}</td>
                <td>{r.preset ?? '–'}</td>
                <td>{r.optimizer ?? '–'}</td>
                <td class="num">{r.lr ?? '–'}</td>
                <td class="differs">{r.differs.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data.reports.length > 0 && (
        <section>
          <h2>Reports and reproductions</h2>
          <ul class="cards">
            {data.reports.map((r) => (
              <li key={r.path}>
                <a href={`#/report/${q(r.path)}`} data-testid="report-link">{r.path}</a>{' '}
                <span class={r.passed === r.applicable && r.applicable > 0 ? 'pass' : 'fail'}>{scoreLine(r)}</span>
                <span class="muted small"> · runs {r.runs.join(', ')}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {data.sweeps.length > 0 && (
        <section>
          <h2>Sweeps</h2>
          <ul class="cards">
            {data.sweeps.map((s) => <li key={s.path}><a href={`#/sweep/${q(s.path)}`}>{s.path}</a></li>)}
          </ul>
        </section>
      )}
    </div>
  );
}
