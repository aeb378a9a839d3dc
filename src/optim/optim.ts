/**
 * Optimizers with PyTorch's semantics (torch.optim 2.x, single parameter group, no momentum for SGD):
 *
 *   sgd   : g += wd * theta ;  theta -= lr * g
 *   adam  : g += wd * theta (L2, coupled) ; m = lerp(m, g, 1 - b1) ; v = b2 v + (1 - b2) g^2 ;
 *           theta -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   adamw : theta *= 1 - lr * wd (decoupled) ; then the adam update without the L2 term
 *
 * t counts steps from 1. Buffers are named as in torch's state_dict: exp_avg (m), exp_avg_sq (v).
 */

export type OptimizerName = 'sgd' | 'adam' | 'adamw';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'adam', 'adamw'];

export interface OptimizerConfig {
  kind: OptimizerName;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export interface OptimizerState {
  t: number;
  buffers: Record<string, Float64Array>;
}

export interface Optimizer {
  readonly config: Readonly<OptimizerConfig>;
  /** Update theta in place from grad (grad itself is left untouched). */
  step(theta: Float64Array, grad: Float64Array): void;
  getState(): OptimizerState;
  setState(s: OptimizerState): void;
}

/** Defaults per kind: lr 1e-3 (the seed's experiments), betas (0.9, 0.999), eps 1e-8; AdamW decays 1e-3 (the seed's prose). */
export function defaultOptimizerConfig(kind: OptimizerName, lr = 1e-3): OptimizerConfig {
  if (!OPTIMIZER_NAMES.includes(kind)) throw new RangeError(`optimizer must be one of ${OPTIMIZER_NAMES.join(', ')}, got ${String(kind)}`);
  return { kind, lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: kind === 'adamw' ? 1e-3 : 0 };
}

function validate(cfg: OptimizerConfig): void {
  if (!OPTIMIZER_NAMES.includes(cfg.kind)) throw new RangeError(`optimizer must be one of ${OPTIMIZER_NAMES.join(', ')}, got ${String(cfg.kind)}`);
  if (!(cfg.lr >= 0) || !Number.isFinite(cfg.lr)) throw new RangeError(`learning rate must be a finite number >= 0, got ${cfg.lr}`);
  if (!(cfg.weightDecay >= 0)) throw new RangeError(`weight decay must be >= 0, got ${cfg.weightDecay}`);
  if (cfg.kind !== 'sgd') {
    const [b1, b2] = cfg.betas;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new RangeError(`betas must lie in [0, 1), got (${b1}, ${b2})`);
    if (!(cfg.eps >= 0)) throw new RangeError(`eps must be >= 0, got ${cfg.eps}`);
  }
}

class Sgd implements Optimizer {
  private t = 0;
  constructor(readonly config: Readonly<OptimizerConfig>, private readonly n: number) {}
  step(theta: Float64Array, grad: Float64Array): void {
    checkLengths(theta, grad, this.n);
    const lr = this.config.lr, wd = this.config.weightDecay;
    for (let j = 0; j < this.n; j++) theta[j] = theta[j]! - lr * (grad[j]! + wd * theta[j]!);
    this.t++;
  }
  getState(): OptimizerState {
    return { t: this.t, buffers: {} };
  }
  setState(s: OptimizerState): void {
    if (!Number.isInteger(s.t) || s.t < 0) throw new RangeError(`optimizer step t must be an integer >= 0, got ${s.t}`);
    this.t = s.t;
  }
}

class Adam implements Optimizer {
  private t = 0;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  constructor(readonly config: Readonly<OptimizerConfig>, private readonly n: number, private readonly decoupled: boolean) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
  }
  step(theta: Float64Array, grad: Float64Array): void {
    checkLengths(theta, grad, this.n);
    const { lr, eps, weightDecay: wd } = this.config;
    const [b1, b2] = this.config.betas;
    const t = ++this.t;
    const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    const a1 = 1 - b1, a2 = 1 - b2;
    const m = this.m, v = this.v, n = this.n;
    const decay = this.decoupled ? 1 - lr * wd : 1;
    const l2 = this.decoupled ? 0 : wd;
    for (let j = 0; j < n; j++) {
      let p = theta[j]!;
      const g = l2 === 0 ? grad[j]! : grad[j]! + l2 * p;
      if (decay !== 1) p *= decay;
      const mj = m[j]! + a1 * (g - m[j]!); // torch: exp_avg.lerp_(grad, 1 - beta1)
      const vj = b2 * v[j]! + a2 * g * g;
      m[j] = mj;
      v[j] = vj;
      theta[j] = p - (stepSize * mj) / (Math.sqrt(vj) / bc2Sqrt + eps);
    }
  }
  getState(): OptimizerState {
    return { t: this.t, buffers: { exp_avg: Float64Array.from(this.m), exp_avg_sq: Float64Array.from(this.v) } };
  }
  setState(s: OptimizerState): void {
    if (!Number.isInteger(s.t) || s.t < 0) throw new RangeError(`optimizer step t must be an integer >= 0, got ${s.t}`);
    const m = s.buffers['exp_avg'], v = s.buffers['exp_avg_sq'];
    if (!m || !v || m.length !== this.n || v.length !== this.n)
      throw new RangeError(`${this.config.kind} state needs buffers exp_avg and exp_avg_sq of length ${this.n}, got ${Object.entries(s.buffers).map(([k, b]) => `${k}[${b.length}]`).join(', ') || 'none'}`);
    this.t = s.t;
    this.m.set(m);
    this.v.set(v);
  }
}

function checkLengths(theta: Float64Array, grad: Float64Array, n: number): void {
  if (theta.length !== n || grad.length !== n) throw new RangeError(`optimizer built for ${n} parameters, got theta[${theta.length}] and grad[${grad.length}]`);
}

export function createOptimizer(cfg: OptimizerConfig, n: number): Optimizer {
  validate(cfg);
  const c: Readonly<OptimizerConfig> = Object.freeze({ ...cfg, betas: [cfg.betas[0], cfg.betas[1]] as [number, number] });
  switch (cfg.kind) {
    case 'sgd':
      return new Sgd(c, n);
    case 'adam':
      return new Adam(c, n, false);
    case 'adamw':
      return new Adam(c, n, true);
  }
}
