/**
 * The runs table: every run below DIR, live, sortable, filterable by text and tag, grouped by
 * experiment / sweep or folder; pick runs to compare or to overlay one metric. Reports and sweeps below.
 * Names, tags and notes are the user's text: they are rendered as text (Preact escapes), never as HTML.
 */
import { useMemo, useState } from 'preact/hooks';
import { apiUrl, fmt, int, MAX_OVERLAY, q, useLiveJson, type IndexResponse, type RunRow } from '../api';
import { differences } from '../../../src/serve/differs.js';
import { scoreLine } from './report';

type Key = 'name' | 'status' | 'step' | 'stepsPerSecond' | 'trainLoss' | 'valLoss' | 'heldOut' | 'heads' | 'd' | 'L' | 'preset' | 'optimizer' | 'lr' | 'differs';
const COLUMNS: { key: Key; label: string; num?: boolean; title?: string }[] = [
  { key: 'name', label: 'run', title: "run.json's name (train --name), else its folder; tags below" }, { key: 'status', label: 'status' }, { key: 'step', label: 'step', num: true },
  { key: 'stepsPerSecond', label: 'steps/s', num: true },
  { key: 'heldOut', label: 'held-out loss', num: true, title: "the final model's MSE ± standard error on held-out prompts (run.json final_validation; completed runs)" },
  { key: 'trainLoss', label: 'batch loss', num: true, title: 'the last training batch (batch_size prompts: noisy, ±30 % from step to step)' },
  { key: 'valLoss', label: 'val. batch', num: true, title: 'the last validation batch (val_samples prompts)' },
  { key: 'heads', label: 'H', num: true }, { key: 'd', label: 'd', num: true }, { key: 'L', label: 'L', num: true },
  { key: 'preset', label: 'preset' }, { key: 'optimizer', label: 'optim.' }, { key: 'lr', label: 'lr', num: true }, { key: 'differs', label: 'differs from the others', title: 'the config fields whose values are not the same for every run shown (logging fields, steps and engine left out)' },
];

export type GroupBy = 'none' | 'experiment' | 'folder';
const GROUPS: { key: GroupBy; label: string }[] = [{ key: 'none', label: 'no grouping' }, { key: 'experiment', label: 'experiment / sweep' }, { key: 'folder', label: 'folder' }];
const NO_GROUP = '(no experiment or sweep tag)';

/** The group of a run: its first experiment: or sweep: tag, or its parent folder. */
export function groupOf(r: RunRow, by: GroupBy): string {
  if (by === 'experiment') return r.tags.find((t) => t.startsWith('experiment:') || t.startsWith('sweep:')) ?? NO_GROUP;
  if (by === 'folder') return r.path.includes('/') ? r.path.slice(0, r.path.lastIndexOf('/')) : '.';
  return '';
}

export function StatusBadge(props: { status: string; stale?: boolean }) {
  const s = props.stale ? 'stopped' : props.status;
  return <span class={`badge badge-${s}`} title={props.stale ? 'run.json says running, but no process is training it (resume with icl-lab train --resume)' : s}>{s}</span>;
}

/** A run's tags as chips; clicking one filters the table by it. */
export function Tags(props: { tags: string[]; onTag?: (t: string) => void }) {
  if (props.tags.length === 0) return null;
  return (
    <span class="tags">
      {props.tags.map((t) => props.onTag
        ? <button type="button" key={t} class="tag" data-testid="tag" title={`show only runs tagged ${t}`} onClick={() => props.onTag!(t)}>{t}</button>
        : <span key={t} class="tag" data-testid="tag">{t}</span>)}
    </span>
  );
}

/** "0.6681 ± 0.0105", its prompt count in the title. */
export function HeldOut(props: { v: RunRow['heldOut'] }) {
  const v = props.v;
  if (!v) return <span class="muted" title="no held-out evaluation: the run has not completed (or was written by an older icl-lab)">–</span>;
  return <span title={`MSE of the final model on ${int(v.samples)} held-out prompts ± one standard error (run.json final_validation)`} data-testid="held-out">{fmt(v.mse)}<span class="muted small"> ± {fmt(v.stderr)}</span></span>;
}

/** The runs, reports and sweeps, refetched on every live event (a run moved, a run appeared). */
export function useIndex(): { data: IndexResponse | null; error: string | null } {
  return useLiveJson<IndexResponse>(apiUrl.index(), () => true);
}

const sortValue = (r: RunRow, key: Key): string | number => {
  if (key === 'differs') return r.differs.join(' ');
  if (key === 'heldOut') return r.heldOut?.mse ?? '';
  if (key === 'name') return r.label ?? r.name;
  return (r[key] as string | number | null) ?? '';
};

export function RunsView() {
  const { data, error } = useIndex();
  const [filter, setFilter] = useState('');
  const [tag, setTag] = useState('');
  const [groupBy, setGroupBy] = useState<GroupBy>('none');
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 }>({ key: 'name', dir: 1 });
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const allTags = useMemo(() => [...new Set((data?.runs ?? []).flatMap((r) => r.tags))].sort(), [data]);
  const rows = useMemo(() => {
    if (!data) return [];
    const words = filter.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const matched = data.runs.filter((r) => (tag === '' || r.tags.includes(tag)) && words.every((w) => `${r.name} ${r.label ?? ''} ${r.tags.join(' ')} ${r.note ?? ''} ${r.status} ${r.preset} ${r.optimizer} H=${r.heads} d=${r.d} L=${r.L} ${r.differs.join(' ')}`.toLowerCase().includes(w)));
    // "differs from the others": among the runs shown (a tag's seeds differ by seed, not by what sets them apart from other runs)
    const d = differences(matched.map((r) => r.config));
    const keep = matched.map((r, i) => ({ ...r, differs: d[i]! }));
    return keep.sort((a, b) => {
      const x = sortValue(a, sort.key);
      const y = sortValue(b, sort.key);
      // a run without a value (–) sorts last either way
      if (x === '' || y === '') return x === y ? 0 : x === '' ? 1 : -1;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true });
      return c * sort.dir;
    });
  }, [data, filter, tag, sort]);
  const groups = useMemo(() => {
    const m = new Map<string, RunRow[]>();
    for (const r of rows) {
      const g = groupOf(r, groupBy);
      if (!m.has(g)) m.set(g, []);
      m.get(g)!.push(r);
    }
    return [...m.entries()].sort(([a], [b]) => (a === NO_GROUP ? 1 : b === NO_GROUP ? -1 : a.localeCompare(b, 'en', { numeric: true })));
  }, [rows, groupBy]);
  if (error) return <p class="error">Could not load the runs: {error}</p>;
  if (!data) return <p class="muted">Loading…</p>;
  const setMany = (paths: string[], on: boolean) => {
    const next = new Set(picked);
    for (const p of paths) if (on) next.add(p); else next.delete(p);
    setPicked(next);
  };
  const toggle = (p: string) => setMany([p], !picked.has(p));
  const chosen = [...picked];
  const compare = '#/compare?' + chosen.map((p) => `path=${q(p)}`).join('&');
  const overlay = '#/overlay?' + chosen.map((p) => `path=${q(p)}`).join('&') + '&metric=loss';
  const shown = rows.map((r) => r.path);
  const allShown = shown.length > 0 && shown.every((p) => picked.has(p));
  const samples = [...new Set(data.runs.flatMap((r) => (r.heldOut ? [r.heldOut.samples] : [])))];
  const cols = COLUMNS.length + 1;
  const row = (r: RunRow) => (
    <tr key={r.path} data-testid="run-row" data-path={r.path}>
      <td><input type="checkbox" checked={picked.has(r.path)} onChange={() => toggle(r.path)} aria-label={`select ${r.label ?? r.name}`} /></td>
      <td class="run-cell">
        <a href={`#/run/${q(r.path)}`} data-testid="run-name">{r.label ?? r.name}</a>
        {r.note ? <span class="note-mark" title={r.note} data-testid="note-mark"> ✎</span> : null}
        {r.label ? <div class="muted small mono">{r.name}</div> : null}
        <Tags tags={r.tags} onTag={setTag} />
        {r.error ? <span class="error small"> {r.error}</span> : null}
      </td>
      <td><StatusBadge status={r.status} stale={r.stale} /></td>
      <td class="num" data-testid="step">
        {int(r.step)}<span class="muted"> / {int(r.steps)}</span>
        <div class="progress"><div style={{ width: `${r.steps > 0 ? Math.min(100, (100 * r.step) / r.steps) : 0}%` }} /></div>
      </td>
      <td class="num">{r.stepsPerSecond === null ? '–' : int(r.stepsPerSecond)}</td>
      <td class="num"><HeldOut v={r.heldOut} /></td>
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
  );
  return (
    <div>
      <div class="toolbar">
        <h1>Runs <span class="muted small">{data.runs.length} below {data.root}</span></h1>
        <input class="filter" type="search" placeholder="filter: h2 running adam heads=4 baseline …" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} data-testid="filter" />
        <label class="small">tag <select value={tag} onChange={(e) => setTag((e.target as HTMLSelectElement).value)} data-testid="tag-filter">
          <option value="">all runs</option>
          {allTags.map((t) => <option key={t} value={t}>{t}</option>)}
        </select></label>
        <label class="small">group by <select value={groupBy} onChange={(e) => setGroupBy((e.target as HTMLSelectElement).value as GroupBy)} data-testid="group-by">
          {GROUPS.map((g) => <option key={g.key} value={g.key}>{g.label}</option>)}
        </select></label>
        <a class={`button ${picked.size >= 2 ? '' : 'disabled'}`} href={picked.size >= 2 ? compare : undefined} data-testid="compare-button" title="curves and circuits of 2 or more runs side by side">Compare {picked.size > 0 ? `(${picked.size})` : ''}</a>
        <a class={`button ${picked.size >= 1 ? '' : 'disabled'}`} href={picked.size >= 1 ? overlay : undefined} data-testid="overlay-button" title="one metric of the selected runs on one chart, a colour per run">Overlay {picked.size > 0 ? `(${picked.size})` : ''}</a>
      </div>
      {data.runs.length === 0 ? (
        <p class="muted">No run directories here yet. Train one: <code>icl-lab train --out {data.root}/h2 --steps 20000</code>, or try the <a href="#/playground">playground</a>.</p>
      ) : (
        <>
          <p class="muted small legend-line" data-testid="loss-legend">
            <b>held-out loss</b>: the final model on {samples.length === 0 ? 'held-out prompts (none completed yet)' : `${samples.map(int).join(' / ')} held-out prompts`} ± one standard error (run.json final_validation): the number to rank runs by. <b>batch loss</b> and <b>val. batch</b>: the last training and validation batch (one batch each, noisy).
            {tag ? <> Showing runs tagged <b>{tag}</b> ({rows.length}) <button type="button" class="linkish" onClick={() => setTag('')} data-testid="clear-tag">show all</button></> : null}
          </p>
          <div class="scroll-box">
            <table class="runs" data-testid="runs-table">
              <thead>
                <tr>
                  <th><input type="checkbox" checked={allShown} onChange={() => setMany(shown, !allShown)} aria-label="select every run shown" data-testid="select-all" /></th>
                  {COLUMNS.map((c) => (
                    <th key={c.key} class={`${c.num ? 'num' : ''} sortable`} title={c.title} onClick={() => setSort({ key: c.key, dir: sort.key === c.key ? (-sort.dir as 1 | -1) : c.num ? -1 : 1 })}>
                      {c.label}{sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
                    </th>
                  ))}
                </tr>
              </thead>
              {groups.map(([g, rs]) => {
                const paths = rs.map((r) => r.path);
                const all = paths.every((p) => picked.has(p));
                const best = rs.reduce<RunRow | null>((b, r) => (r.heldOut && (!b || r.heldOut.mse < b.heldOut!.mse) ? r : b), null);
                return (
                  <tbody key={g} data-testid="run-group" data-group={g}>
                    {groupBy !== 'none' ? (
                      <tr class="group-row">
                        <td><input type="checkbox" checked={all} onChange={() => setMany(paths, !all)} aria-label={`select the runs of ${g}`} data-testid="select-group" /></td>
                        <td colSpan={cols - 1}>
                          <b data-testid="group-name">{g}</b> <span class="muted small">{rs.length} run{rs.length === 1 ? '' : 's'}{best ? <> · best held-out {fmt(best.heldOut!.mse)} ({best.label ?? best.name})</> : null}</span>
                          {' '}<a class="small" href={'#/overlay?' + paths.slice(0, MAX_OVERLAY).map((p) => `path=${q(p)}`).join('&') + '&metric=loss'} data-testid="group-overlay">overlay {Math.min(MAX_OVERLAY, paths.length)}</a>
                        </td>
                      </tr>
                    ) : null}
                    {rs.map(row)}
                  </tbody>
                );
              })}
            </table>
          </div>
        </>
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
