/**
 * The playground: pick a configuration, train it in this browser (the project's training loop and
 * WebAssembly engine in a Web Worker), watch loss, w^h/μ^h/η_TF and the heatmaps form, download the
 * model as .safetensors (`icl-lab analyze FILE` reads it). Needs no server.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { lossSpec } from '../../../src/plots/loss.js';
import { optimalEtaOf, riskParams } from '../../../src/analysis/theory.js';
import { etaSpec, webDynamicsSpec } from '../../../src/serve/figures.js';
import { fmt, int } from '../api';
import { VegaChart } from '../chart';
import { Heatmaps } from '../heatmaps';
import type { FromWorker, PlaygroundSettings, Progress } from './protocol';
import { hashQuery, SETTING_RULES, settingsFromQuery, settingsToQuery, writeHashQuery } from './url';

const DEFAULTS: PlaygroundSettings = {
  attention: 'softmax', heads: 2, d: 5, contextLength: 40, init: 'random', optimizer: 'adam', lr: 1e-3, noiseStd: 0.01, preset: 'seed', steps: 20000, batchSize: 128, seed: 1024, engine: 'wasm',
};

interface Curves {
  trainLoss: number[];
  valLoss: number[];
  valStep: number[];
  dynStep: number[];
  qkDyn: number[];
  ovDyn: number[];
  last: Progress | null;
}
const empty = (): Curves => ({ trainLoss: [], valLoss: [], valStep: [], dynStep: [], qkDyn: [], ovDyn: [], last: null });
const push = (dst: number[], src: Float64Array): void => {
  for (let i = 0; i < src.length; i++) dst.push(src[i]!);
};

export function Playground() {
  const [settings, setSettings] = useState<PlaygroundSettings>(() => settingsFromQuery(hashQuery(), DEFAULTS)); // the URL holds the settings
  useEffect(() => writeHashQuery(settingsToQuery(settings, DEFAULTS)), [settings]);
  const [status, setStatus] = useState<'loading' | 'idle' | 'running' | 'paused' | 'done' | 'failed'>('loading');
  const [wasm, setWasm] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [last, setLast] = useState<Progress | null>(null);
  const [drawn, setDrawn] = useState(0); // bumps when the charts should redraw
  const curves = useRef<Curves>(empty());
  const worker = useRef<Worker | null>(null);
  const lastDraw = useRef(0);
  const session = useRef(0); // messages of older sessions (before a reset or a new train) are ignored

  useEffect(() => {
    const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    worker.current = w;
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === 'ready') {
        setWasm(m.wasm);
        if (m.wasm) setSettings((s) => ({ ...s, engine: 'ts' }));
        setStatus('idle');
      } else if (m.type === 'error') {
        setError(m.message);
        setStatus('failed');
      } else if (m.type === 'model') {
        const url = URL.createObjectURL(new Blob([m.bytes as BlobPart], { type: 'application/octet-stream' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = m.name;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } else if (m.type === 'progress') {
        if (m.session !== session.current) return;
        const c = curves.current;
        c.trainLoss.length = m.trainLossFrom;
        push(c.trainLoss, m.trainLoss);
        c.valLoss.length = m.valFrom;
        c.valStep.length = m.valFrom;
        push(c.valLoss, m.valLoss);
        push(c.valStep, m.valStep);
        const LH = m.layers * m.heads;
        c.dynStep.length = m.dynFrom;
        c.qkDyn.length = m.dynFrom * LH;
        c.ovDyn.length = m.dynFrom * LH;
        push(c.dynStep, m.dynStep);
        push(c.qkDyn, m.qkDyn);
        push(c.ovDyn, m.ovDyn);
        c.last = m;
        setLast(m);
        setStatus(m.done ? 'done' : m.running ? 'running' : 'paused');
        const now = performance.now();
        if (now - lastDraw.current > 1000 || !m.running) {
          lastDraw.current = now;
          setDrawn((x) => x + 1);
        }
      }
    };
    return () => w.terminate();
  }, []);

  const specs = useMemo(() => {
    const c = curves.current;
    const m = c.last;
    if (!m || c.trainLoss.length === 0) return null;
    const d = settings.d;
    const L = settings.contextLength;
    const theory = { ratio: L / (L + d), etaStar: optimalEtaOf(riskParams({ d, L, noiseStd: settings.noiseStd, preset: settings.preset })) };
    const dyn = { step: c.dynStep, qk: c.qkDyn, ov: c.ovDyn, layers: m.layers, heads: m.heads };
    return {
      loss: lossSpec({ trainLoss: c.trainLoss, valLoss: c.valLoss, valStep: c.valStep }, { buckets: 300, width: 520, height: 240 }),
      dynamics: c.dynStep.length > 0 ? webDynamicsSpec(dyn, { width: 250, height: 180 }) : null,
      eta: c.dynStep.length > 0 ? etaSpec(dyn, theory, { width: 250, height: 180 }) : null,
      snapshots: m.snapStep >= 0 ? { step: [m.snapStep], layers: m.layers, heads: m.heads, E: m.E, qk: Array.from(m.qk), ov: Array.from(m.ov) } : null,
    };
  }, [drawn]);

  const send = (m: object) => worker.current?.postMessage(m);
  const first = curves.current.trainLoss.slice(0, 100);
  const firstLoss = first.length === 100 ? first.reduce((a, b) => a + b, 0) / 100 : null;
  const train = () => {
    curves.current = empty();
    setError(null);
    setLast(null);
    setStatus('running');
    session.current += 1;
    send({ type: 'start', settings, session: session.current });
  };
  const reset = () => {
    send({ type: 'reset' });
    session.current += 1;
    curves.current = empty();
    setLast(null);
    setError(null);
    setStatus('idle');
    setDrawn((x) => x + 1);
  };
  const set = <K extends keyof PlaygroundSettings>(k: K, v: PlaygroundSettings[K]) => setSettings({ ...settings, [k]: v });
  const numInput = (k: 'heads' | 'd' | 'contextLength' | 'lr' | 'noiseStd' | 'steps' | 'batchSize' | 'seed', label: string) => {
    const r = SETTING_RULES[k] as { min: number; max: number; int: boolean }; // the bounds the URL is checked against too
    return <label>{label}<input type="number" value={settings[k]} min={r.min} max={r.max} step={r.int ? 1 : 'any'} onChange={(e) => set(k, Number((e.target as HTMLInputElement).value))} data-testid={`pg-${k}`} disabled={status === 'running' || status === 'paused'} /></label>;
  };
  const select = <K extends 'attention' | 'init' | 'optimizer' | 'preset' | 'engine'>(k: K, label: string, values = SETTING_RULES[k] as readonly string[]) => (
    <label>{label}<select value={settings[k]} onChange={(e) => set(k, (e.target as HTMLSelectElement).value as PlaygroundSettings[K])} data-testid={`pg-${k}`} disabled={status === 'running' || status === 'paused'}>
      {values.map((v) => <option key={v} value={v} disabled={k === 'engine' && v === 'wasm' && wasm !== null}>{v}</option>)}
    </select></label>
  );
  const busy = status === 'running' || status === 'paused';
  return (
    <div class="playground">
      <div class="toolbar"><h1>Playground</h1><span class="muted">train one-layer multi-head attention (softmax or linear) on in-context linear regression, here in your browser</span></div>
      <form class="settings" onSubmit={(e) => e.preventDefault()}>
        {select('attention', 'attention')}
        {numInput('heads', 'heads H')}
        {numInput('d', 'd')}
        {numInput('contextLength', 'context L')}
        {select('init', 'init')}
        {select('optimizer', 'optimizer')}
        {numInput('lr', 'lr')}
        {numInput('noiseStd', 'noise std')}
        {select('preset', 'preset')}
        {numInput('steps', 'steps')}
        {numInput('batchSize', 'batch')}
        {numInput('seed', 'seed')}
        {select('engine', 'engine')}
      </form>
      <p class="muted small">These settings are in this page's address: copy it to share the configuration.</p>
      <div class="toolbar">
        <button onClick={train} disabled={status === 'loading' || busy} data-testid="pg-train">▶ train</button>
        <button onClick={() => send({ type: 'pause' })} disabled={status !== 'running'} data-testid="pg-pause">❚❚ pause</button>
        <button onClick={() => {
          send({ type: 'resume' });
          setStatus('running');
        }} disabled={status !== 'paused'} data-testid="pg-resume">▶ resume</button>
        <button onClick={reset} disabled={!last} data-testid="pg-reset">↺ reset</button>
        <button onClick={() => send({ type: 'download' })} disabled={!last} data-testid="pg-download">⤓ download .safetensors</button>
        <span class={`badge badge-${status === 'done' ? 'completed' : status}`} data-testid="pg-status">{status}</span>
      </div>
      <p class="stats-line">
        step <b class="mono" data-testid="pg-step">{int(last?.step ?? 0)}</b> / {int(settings.steps)}
        {' · '}<span class="mono" data-testid="pg-sps">{int(last?.recentStepsPerSecond || last?.stepsPerSecond || 0)}</span> steps/s
        <span class="muted small"> (session mean <span data-testid="pg-sps-mean">{int(last?.stepsPerSecond ?? 0)}</span>, engine {last?.engine ?? settings.engine})</span>
        {' · '}loss <b class="mono" data-testid="pg-loss">{fmt(last?.loss)}</b>
        {firstLoss !== null && <span class="muted small"> (mean of the first 100 steps <span data-testid="pg-first-loss">{fmt(firstLoss)}</span>)</span>}
        {' · '}val. <span class="mono">{fmt(last?.val)}</span>
        {wasm && <span class="error small"> · WebAssembly unavailable ({wasm}); using the TypeScript engine</span>}
      </p>
      {error && <p class="error" data-testid="pg-error">{error}</p>}
      {specs ? (
        <>
          <div class="row">
            <VegaChart spec={specs.loss} testId="pg-loss-chart" />
          </div>
          <div class="row">
            {specs.dynamics && <VegaChart spec={specs.dynamics} testId="pg-dynamics-chart" />}
            {specs.eta && <VegaChart spec={specs.eta} testId="pg-eta-chart" />}
          </div>
          {specs.snapshots && <Heatmaps snapshots={specs.snapshots} index={0} testId="pg-heatmaps" cell={34} />}
        </>
      ) : <p class="muted">Press train: the loss, wʰ(t), μʰ(t), η_TF(t) and the QKʰ / OVʰ heatmaps of every head appear here and update as it learns.</p>}
    </div>
  );
}
