import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UsageError } from '../src/errors.js';
import {
  configFromJson, configToJson, countLogged, defaultTrainConfig, makeTrainConfig, FIELDS, flagName, incompatibleFields, jsonKey,
  parseConfigObject, parseConfigText, parseFlags, resolveConfigs, runName, varyingAcross, type FieldKey,
} from '../src/run/config.js';
import { planTrain } from '../src/cli/commands/train.js';

/** Resolve flags as commander hands them over (strings). */
function resolveFlags(flags: Record<string, unknown>) {
  const spec = parseFlags(flags);
  return resolveConfigs(spec, new Set(Object.keys(spec) as FieldKey[]));
}

function usageMessage(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('train config: defaults are the notebook main experiment (SEED_NOTES #8)', () => {
  it('config_1: 1 layer, H=2, d=5, L=40, Adam lr 1e-3, B=128, noise 0.01, 500001 steps, logs every 1000, print 50000, seed 1024', () => {
    const c = defaultTrainConfig();
    expect(c).toMatchObject({
      layers: 1, heads: 2, d: 5, contextLength: 40, nOut: 1, weightTying: false, preset: 'seed', noiseStd: 0.01,
      init: 'random', optimizer: 'adam', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, batchSize: 128,
      steps: 500_001, seed: 1024, dynamicsEvery: 1000, qkEvery: 1000, lossEvery: 1000, valEvery: 1000,
      valSamples: 128, printEvery: 50_000,
    });
  });
  it('adamw defaults to weight decay 1e-3 (SEED_NOTES #7), sgd and adam to 0', () => {
    expect(resolveFlags({ optimizer: 'adamw' })[0]!.weightDecay).toBe(1e-3);
    expect(resolveFlags({ optimizer: 'sgd' })[0]!.weightDecay).toBe(0);
    expect(resolveFlags({ optimizer: 'adamw', weightDecay: '0' })[0]!.weightDecay).toBe(0);
  });
  it('--val-samples defaults to --batch-size', () => {
    expect(resolveFlags({ batchSize: '32' })[0]!.valSamples).toBe(32);
    expect(resolveFlags({ batchSize: '32', valSamples: '1000' })[0]!.valSamples).toBe(1000);
  });
  it('flag and JSON names come from the property names', () => {
    expect(flagName('contextLength')).toBe('--context-length');
    expect(jsonKey('contextLength')).toBe('context_length');
    expect(FIELDS.map((f) => flagName(f.key))).toEqual(expect.arrayContaining([
      '--layers', '--heads', '--d', '--context-length', '--optimizer', '--lr', '--batch-size', '--steps', '--noise-std', '--init', '--seed',
      '--n-out', '--weight-tying', '--betas', '--eps', '--weight-decay', '--dynamics-every', '--qk-every', '--loss-every', '--val-every',
      '--print-every', '--preset', '--val-samples', '--checkpoint-every', '--checkpoint-secs', '--diverge-loss',
    ]));
  });
  it('makeTrainConfig: overrides checked like flags, derived fields follow', () => {
    const c = makeTrainConfig({ heads: 4, optimizer: 'adamw', batchSize: 64 });
    expect([c.heads, c.weightDecay, c.valSamples, c.steps]).toEqual([4, 1e-3, 64, 500_001]);
    expect(usageMessage(() => makeTrainConfig({ heads: 3, init: 'oppo_small_id' }))).toMatch(/must be even/);
    expect(usageMessage(() => makeTrainConfig({ lr: -1 }))).toMatch(/config key "lr" must be a number > 0/);
    expect(usageMessage(() => makeTrainConfig({ bogus: 1 } as never))).toMatch(/unknown key "bogus"/);
  });
  it('countLogged counts the steps s < steps with s % every == 0', () => {
    expect(countLogged(500_001, 1000)).toBe(501);
    expect(countLogged(3000, 1000)).toBe(3);
    expect(countLogged(1, 1000)).toBe(1);
    expect(countLogged(0, 7)).toBe(0);
  });
});

describe('train config: parsing and JSON', () => {
  it('parses typed values and lists', () => {
    const c = resolveFlags({ heads: '4', lr: '3e-4', betas: '0.8,0.99', optimizer: 'AdamW', weightTying: undefined, steps: '1_000' })[0]!;
    expect(c.heads).toBe(4);
    expect(c.lr).toBe(3e-4);
    expect(c.betas).toEqual([0.8, 0.99]);
    expect(c.optimizer).toBe('adamw');
    expect(c.steps).toBe(1000);
  });
  it('lists expand to every combination, heads slowest, seed fastest', () => {
    const cs = resolveFlags({ heads: '1,2', seed: '7,8,9' });
    expect(cs.map((c) => [c.heads, c.seed])).toEqual([[1, 7], [1, 8], [1, 9], [2, 7], [2, 8], [2, 9]]);
    expect(varyingAcross(cs)).toEqual(['heads', 'seed']);
    expect(cs.map((c) => runName(c, varyingAcross(cs)))[0]).toBe('h1-seed7-d5-L40');
    const hs = resolveFlags({ heads: '1,2,4,8' });
    expect(hs.map((c) => runName(c, varyingAcross(hs)))).toEqual(['h1', 'h2', 'h4', 'h8']);
    const ls = resolveFlags({ contextLength: '10,20' });
    expect(ls.map((c) => runName(c, varyingAcross(ls)))).toEqual(['L10', 'L20']);
  });
  it('JSON config: snake_case or flag-form keys; flags override; unknown keys are an error', () => {
    const spec = { ...parseConfigText('{"heads": 4, "context-length": 20, "lr": 0.01, "betas": [0.5, 0.6]}'), ...parseFlags({ lr: '0.02' }) };
    const c = resolveConfigs(spec)[0]!;
    expect([c.heads, c.contextLength, c.lr, c.betas]).toEqual([4, 20, 0.02, [0.5, 0.6]]);
    expect(usageMessage(() => parseConfigText('{"head": 4}'))).toMatch(/unknown key "head"/);
    expect(usageMessage(() => parseConfigText('{"heads": 4'))).toMatch(/not valid JSON/);
    expect(usageMessage(() => parseConfigText('[1,2]'))).toMatch(/JSON object/);
    expect(usageMessage(() => parseConfigText('{"heads": "four"}'))).toMatch(/config key "heads" must be an integer/);
    expect(usageMessage(() => parseConfigText('{"heads": 4, "heads": 4, "context_length": 3, "context-length": 4}'))).toMatch(/given twice/);
  });
  it('--config accepts a whole run.json (its config)', () => {
    const c = resolveFlags({ heads: '4', lr: '0.01' })[0]!;
    const runJson = JSON.stringify({ icl_lab_version: '0.1.0', status: 'completed', config: configToJson(c) });
    expect(resolveConfigs({ ...parseConfigText(runJson), ...parseFlags({ seed: '7' }) })[0]).toEqual({ ...c, seed: 7, poolSeed: 7 }) // the pool seed follows the seed unless given;
  });
  it('run.json config round-trips, and a corrupted one is refused', () => {
    const c = resolveFlags({ heads: '8', init: 'oppo_small_id', optimizer: 'adamw', preset: 'paper', rho: '0.5' })[0]!;
    const back = configFromJson(JSON.parse(JSON.stringify(configToJson(c))));
    expect(back).toEqual(c);
    expect(incompatibleFields(c, { ...c, steps: 10, printEvery: 3, checkpointSecs: 1 })).toEqual([]);
    expect(incompatibleFields(c, { ...c, lr: 1 })).toEqual(['lr']);
    expect(() => configFromJson({ ...configToJson(c), heads: 3 })).toThrow(/even/);
  });
});

describe('train config: every validation rule names the flag and what is allowed', () => {
  it('a list given to a one-value flag carries the sweep command that grids it (the CLI prints it as it runs here)', () => {
    let err: unknown;
    try {
      resolveFlags({ lr: '1e-3, 3e-3' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).command).toBe('sweep --grid lr=1e-3,3e-3 --out DIR');
  });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ steps: '0' }, /--steps must be an integer >= 1/],
    [{ steps: '1.5' }, /--steps must be an integer/],
    [{ steps: 'abc' }, /--steps must be an integer >= 1 and <= 1e8, got "abc"/],
    [{ steps: '' }, /--steps must be an integer/],
    [{ steps: '0x10' }, /--steps/],
    [{ steps: '1e9' }, /--steps must be .* <= 1e8/],
    [{ lr: '0' }, /--lr must be a number > 0/],
    [{ lr: '-1e-3' }, /--lr must be a number > 0/],
    [{ lr: 'NaN' }, /--lr/],
    // a list where the flag takes one value: which flags take lists, and the sweep that grids this one
    [{ lr: '1e-3,3e-3' }, /^--lr must be a number > 0 and <= 1e12, got "1e-3,3e-3"; only --heads, --d, --context-length, --task-pool, --sparsity, --seed take lists \(one run each\); for a grid over --lr:$/],
    [{ lr: 'Infinity' }, /--lr/],
    [{ betas: '0.9' }, /--betas must be two numbers "b1,b2", each >= 0 and < 1/],
    [{ betas: '0.9,1' }, /--betas must be two numbers/],
    [{ betas: '-0.1,0.9' }, /--betas/],
    [{ eps: '0' }, /--eps must be a number > 0/],
    [{ weightDecay: '-1' }, /--weight-decay must be a number >= 0/],
    [{ noiseStd: '-0.01' }, /--noise-std must be a number >= 0/],
    [{ rho: '1' }, /--rho must be a number >= 0 and < 1/],
    [{ heads: '0' }, /--heads must be an integer >= 1/],
    [{ heads: '1,,2' }, /--heads/],
    [{ heads: '2,2' }, /--heads lists 2 twice/],
    [{ d: '0' }, /--d must be an integer >= 1/],
    [{ contextLength: '-4' }, /--context-length must be an integer >= 1/],
    [{ batchSize: '0' }, /--batch-size must be an integer >= 1/],
    [{ seed: '-1' }, /--seed must be an integer >= 0/],
    [{ seed: '4294967296' }, /--seed must be an integer >= 0 and <= 4294967295/],
    [{ optimizer: 'rmsprop' }, /--optimizer must be one of sgd, adam, adamw, got "rmsprop"/],
    [{ init: 'zeros' }, /--init must be one of random, small_id, small_id_qk, oppo_small_id/],
    [{ preset: 'other' }, /--preset must be one of seed, paper/],
    [{ dynamicsEvery: '0' }, /--dynamics-every must be an integer >= 1/],
    [{ qkEvery: '2.5' }, /--qk-every must be an integer/],
    [{ lossEvery: '0' }, /--loss-every must be an integer >= 1/],
    [{ valEvery: '-1' }, /--val-every must be an integer >= 1/],
    [{ printEvery: '0' }, /--print-every must be an integer >= 1/],
    [{ valSamples: '0' }, /--val-samples must be an integer >= 1/],
    [{ checkpointEvery: '-1' }, /--checkpoint-every must be an integer >= 0/],
    [{ checkpointSecs: '-5' }, /--checkpoint-secs must be a number >= 0/],
    [{ divergeLoss: '-1' }, /--diverge-loss must be a number >= 0/],
    [{ nOut: '2' }, /--n-out 2: the single regression task has one output; several outputs come with --tasks/],
    [{ layers: '0' }, /--layers must be an integer >= 1/],
    // combinations
    [{ layers: '3', init: 'oppo_small_id', heads: '3' }, /--init oppo_small_id .* --heads must be even, got 3/],
    [{ layers: '4', qkEvery: '1', steps: '10000000', heads: '8' }, /raise --qk-every/],
    [{ weightTying: true }, /--weight-tying .* needs --layers > 1/],
    [{ init: 'oppo_small_id', heads: '3' }, /--init oppo_small_id .* --heads must be even, got 3/],
    [{ init: 'oppo_small_id', heads: '2,3' }, /--heads must be even, got 3/],
    [{ optimizer: 'sgd', betas: '0.9,0.99' }, /--betas has no effect with --optimizer sgd/],
    [{ optimizer: 'sgd', eps: '1e-6' }, /--eps has no effect with --optimizer sgd/],
    [{ batchSize: '1000000', contextLength: '1000' }, /--batch-size x --context-length x \(--d \+ 1\)/],
    [{ qkEvery: '1', steps: '100000000', heads: '8' }, /raise --qk-every/],
  ];
  for (const [flags, re] of cases) {
    it(`${JSON.stringify(flags)} -> ${re.source}`, () => {
      expect(usageMessage(() => resolveFlags(flags))).toMatch(re);
    });
  }
  it('good combinations pass', () => {
    expect(resolveFlags({ init: 'oppo_small_id', heads: '2,4,8' })).toHaveLength(3);
    expect(resolveFlags({ optimizer: 'sgd', lr: '0.01' })[0]!.optimizer).toBe('sgd');
  });
});

describe('train CLI plan (no files touched)', () => {
  it('needs --out, or --resume alone', () => {
    expect(usageMessage(() => planTrain({}))).toMatch(/--out DIR is required/);
    expect(usageMessage(() => planTrain({ resume: 'x', lr: '0.1' }))).toMatch(/--lr cannot be changed when resuming/);
    expect(usageMessage(() => planTrain({ resume: 'x', out: 'y' }))).toMatch(/--out cannot be used with --resume/);
    expect(usageMessage(() => planTrain({ out: 'y', jobs: '0' }))).toMatch(/--jobs must be an integer in 1..256/);
    expect(usageMessage(() => planTrain({ out: 'y', progress: 'fancy' }))).toMatch(/--progress must be one of auto, bar, lines, none/);
    expect(usageMessage(() => planTrain({ out: 'y', config: '/nonexistent/cfg.json' }))).toMatch(/--config \/nonexistent\/cfg.json: no such file/);
    expect(planTrain({ resume: 'x', steps: '400' })).toMatchObject({ kind: 'resume', dir: 'x', steps: 400, changes: {} });
    expect(planTrain({ resume: 'x', printEvery: '10', checkpointSecs: '5' })).toMatchObject({ kind: 'resume', changes: { printEvery: 10, checkpointSecs: 5 } });
    expect(planTrain({ out: 'o', heads: '1,2' })).toMatchObject({ kind: 'new', out: 'o' });
  });

  it('fuzz: any flag values -> a config or a UsageError naming a flag, never another error', () => {
    const keys = FIELDS.map((f) => f.key);
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom('0', '-1', '1', '2', '1e3', '1e-3', '0.5', 'NaN', 'Infinity', '1,2', '2,2', '', ' ', '0x10', '1_0', '.5', '9'.repeat(30), 'adam', 'sgd', 'oppo_small_id', 'paper', '0.9,0.999', 'true'),
      fc.integer().map(String),
      fc.double().map(String),
      fc.boolean(),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys, 'out', 'resume', 'jobs', 'progress', 'json', 'force'), value, { maxKeys: 6 }), (opts) => {
        try {
          planTrain({ out: 'unused', ...opts } as Record<string, unknown>);
        } catch (err) {
          if (!(err instanceof UsageError)) throw err;
          expect(err.message).toMatch(/--[a-z]|config key|nothing|runs/);
          expect(err.message).not.toMatch(/\n\s+at /);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('fuzz: any JSON config -> a config or a UsageError', () => {
    const keys = FIELDS.map((f) => jsonKey(f.key));
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string()), fc.jsonValue(), { maxKeys: 5 }), (obj) => {
        try {
          resolveConfigs(parseConfigObject(obj));
        } catch (err) {
          if (!(err instanceof UsageError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('model and task families in the config (issue 18)', () => {
  it('attention and task are named by the config, with defaults softmax and (derived) gaussian / multitask', () => {
    expect([defaultTrainConfig().attention, defaultTrainConfig().task]).toEqual(['softmax', 'gaussian']);
    expect(makeTrainConfig({ tasks: '0:2,1:3', d: 3 }).task).toBe('multitask');
    expect(usageMessage(() => makeTrainConfig({ task: 'multitask' }))).toBe('--task multitask needs its coordinate blocks: give --tasks, e.g. --tasks 0:4,2:6');
    expect(usageMessage(() => makeTrainConfig({ task: 'gaussian', tasks: '0:2,1:3', d: 3 }))).toBe('--tasks belongs to the multitask family; it does not go with --task gaussian');
    expect(usageMessage(() => resolveFlags({ attention: 'cosine' }))).toBe('--attention must be one of softmax, linear, linear-sum, got "cosine"');
  });

  it('configToJson leaves the implicit fields out at their defaults (earlier checkpoints and sweep ids keep their bytes); explicit (run.json) states them', () => {
    const c = defaultTrainConfig();
    expect(Object.keys(configToJson(c))).not.toContain('attention');
    expect(Object.keys(configToJson(c))).not.toContain('task');
    expect(configToJson(c, { explicit: true })).toMatchObject({ attention: 'softmax', task: 'gaussian' });
    const mt = makeTrainConfig({ tasks: '0:2,1:3', d: 3 });
    expect(Object.keys(configToJson(mt))).not.toContain('task');
    expect(configFromJson(configToJson(mt))).toEqual(mt);
    expect(configFromJson(configToJson(c, { explicit: true }))).toEqual(c);
  });

  it('every family a config can name has its registry entry, and no more', async () => {
    const { MODEL_FAMILIES } = await import('../src/run/model-families.js');
    const { TASK_FAMILIES } = await import('../src/run/task-families.js');
    const values = (k: FieldKey) => [...FIELDS.find((f) => f.key === k)!.values!].sort();
    expect(Object.keys(MODEL_FAMILIES).sort()).toEqual(values('attention'));
    expect(Object.keys(TASK_FAMILIES).sort()).toEqual(values('task'));
    const mt = makeTrainConfig({ tasks: '0:2,1:3', d: 3 });
    expect([TASK_FAMILIES.multitask.tokenWidth(mt), TASK_FAMILIES.multitask.outputs(mt), TASK_FAMILIES.multitask.streamVersion(mt)]).toEqual([5, 2, 1]);
    expect([TASK_FAMILIES.gaussian.tokenWidth(defaultTrainConfig()), TASK_FAMILIES.gaussian.outputs(defaultTrainConfig())]).toEqual([6, 1]);
  });
});
