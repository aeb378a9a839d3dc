/**
 * The playground's trainer: the same training loop as `icl-lab train` (run/loop.ts: createState,
 * runSteps) on the WebAssembly engine, in a Web Worker. Runs in ~100 ms slices, yielding through a
 * MessageChannel (no timer clamping), and posts progress about four times a second.
 */
import { encodeSafetensors, tensorF32, type Tensor } from '../../../src/io/safetensors.js';
import { configToJson, makeTrainConfig } from '../../../src/run/config.js';
import { createState, runSteps, type TrainState } from '../../../src/run/loop.js';
import type { FromWorker, PlaygroundSettings, Progress, ToWorker } from './protocol';
import { browserKernels, loadBrowserWasm } from './wasm';

const post = (m: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(m, transfer);

let state: TrainState | null = null;
let running = false;
let sent = { loss: 0, val: 0, dyn: 0 };
let activeMs = 0; // time spent running steps this session
let activeFrom = 0;
let lastPost = 0;
let recent: { t: number; step: number }[] = [];
let failed: string | null = null;
let session = 0;
const ready = loadBrowserWasm().then((why) => {
  post({ type: 'ready', wasm: why });
  return why;
});

const channel = new MessageChannel();
channel.port1.onmessage = () => tick();
const schedule = (): void => channel.port2.postMessage(null);

function progress(): Progress {
  const s = state!;
  const c = s.config;
  const LH = c.layers * c.heads;
  const E = c.d + 1;
  const logs = s.logs;
  const now = performance.now();
  recent.push({ t: now, step: s.step });
  while (recent.length > 2 && now - recent[0]!.t > 2000) recent.shift();
  const r0 = recent[0]!;
  const ms = activeMs + (running ? now - activeFrom : 0);
  const snap = logs.nSnap - 1;
  const m: Progress = {
    type: 'progress', session, step: s.step, steps: c.steps, running, done: s.step >= c.steps, engine: c.engine,
    stepsPerSecond: ms > 0 ? (s.step * 1000) / ms : 0,
    recentStepsPerSecond: running && now > r0.t ? ((s.step - r0.step) * 1000) / (now - r0.t) : 0,
    loss: s.lastLoss, val: s.lastVal,
    trainLossFrom: sent.loss, trainLoss: logs.trainLoss.slice(sent.loss, s.step),
    valFrom: sent.val, valLoss: logs.valLoss.slice(sent.val, logs.nVal), valStep: logs.valStep.slice(sent.val, logs.nVal),
    dynFrom: sent.dyn, dynStep: logs.dynStep.slice(sent.dyn, logs.nDyn),
    qkDyn: logs.qkDynamics.slice(sent.dyn * LH, logs.nDyn * LH), ovDyn: logs.ovDynamics.slice(sent.dyn * LH, logs.nDyn * LH),
    snapStep: snap >= 0 ? logs.snapStep[snap]! : -1,
    qk: snap >= 0 ? logs.qk.slice(snap * LH * E * E, (snap + 1) * LH * E * E) : new Float64Array(0),
    ov: snap >= 0 ? logs.ov.slice(snap * LH * E, (snap + 1) * LH * E) : new Float64Array(0),
    layers: c.layers, heads: c.heads, E,
  };
  sent = { loss: s.step, val: logs.nVal, dyn: logs.nDyn };
  return m;
}

function send(): void {
  const m = progress();
  post(m, [m.trainLoss.buffer, m.valLoss.buffer, m.valStep.buffer, m.dynStep.buffer, m.qkDyn.buffer, m.ovDyn.buffer, m.qk.buffer, m.ov.buffer]);
  lastPost = performance.now();
}

function stop(): void {
  if (running) activeMs += performance.now() - activeFrom;
  running = false;
}

function tick(): void {
  if (!running || !state) return;
  const s = state;
  const bad = runSteps(s, s.config.steps, performance.now() + 100);
  if (bad) {
    stop();
    failed = bad.reason;
    send();
    post({ type: 'error', message: `diverged: ${bad.reason}` });
    return;
  }
  if (s.step >= s.config.steps) {
    stop();
    send();
    return;
  }
  if (performance.now() - lastPost >= 250) send();
  schedule();
}

function start(settings: PlaygroundSettings): void {
  const steps = settings.steps;
  const every = (n: number): number => Math.max(1, Math.round(steps / n));
  const config = makeTrainConfig({
    attention: settings.attention, heads: settings.heads, d: settings.d, contextLength: settings.contextLength, init: settings.init,
    optimizer: settings.optimizer, lr: settings.lr, noiseStd: settings.noiseStd, preset: settings.preset,
    steps, batchSize: settings.batchSize, seed: settings.seed, engine: settings.engine,
    dynamicsEvery: every(1000), qkEvery: every(200), valEvery: every(200), lossEvery: 1, printEvery: steps,
  });
  state = createState(config, browserKernels());
  sent = { loss: 0, val: 0, dyn: 0 };
  activeMs = 0;
  recent = [];
  failed = null;
  running = true;
  activeFrom = performance.now();
  send();
  schedule();
}

function download(): void {
  if (!state) return;
  const s = state;
  const tensors: Record<string, Tensor> = {};
  for (const e of s.model.stateDict()) tensors[e.key] = tensorF32(e.shape, e.data);
  const bytes = encodeSafetensors(tensors, {
    icl_lab: 'model', ...s.model.metadata(), step: String(s.step), source: 'icl-lab playground', config: JSON.stringify(configToJson(s.config)),
  });
  const c = s.config;
  post({ type: 'model', bytes, name: `playground-h${c.heads}-d${c.d}-L${c.contextLength}-step${s.step}.safetensors` }, [bytes.buffer]);
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  try {
    if (m.type === 'start') {
      await ready;
      session = m.session;
      start(m.settings);
    } else if (m.type === 'pause') {
      stop();
      if (state) send();
    } else if (m.type === 'resume') {
      if (state && !running && state.step < state.config.steps && !failed) {
        running = true;
        activeFrom = performance.now();
        schedule();
      }
    } else if (m.type === 'reset') {
      stop();
      state = null;
    } else if (m.type === 'download') {
      download();
    }
  } catch (err) {
    stop();
    post({ type: 'error', message: (err as Error).message });
  }
};
