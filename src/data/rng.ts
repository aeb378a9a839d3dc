/**
 * Seedable pseudo-random numbers for the whole lab.
 *
 *   uniforms : xoshiro128** (Blackman & Vigna), four 32-bit words of state, 32-bit integer ops only
 *   seeding  : splitmix64 of the seed, so nearby seeds give unrelated streams
 *   normals  : 128-layer ziggurat (Marsaglia & Tsang 2000, with Doornik's 2005 fix: the layer index
 *              and sign come from bits independent of the uniform that is scaled), exact up to the
 *              32-bit resolution of the uniform; Marsaglia's exponential tail beyond R.
 *
 * The complete state (generator words + the cached layer-index bits) is a JSON-safe number[]:
 * `Rng.fromState(rng.getState())` continues the identical stream.
 */
import { xoshiroDouble, xoshiroNext } from './xoshiro.js';
import { wedgeAccepts, ZK, ZWS, zigguratTail } from './ziggurat.js';

export { xoshiroDouble, xoshiroNext };

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: bigint): [bigint, bigint] {
  const s = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [s, z ^ (z >> 31n)];
}

/** Number of entries in `getState()`: 4 generator words, cached layer bits, how many bytes are left. */
const STATE_LENGTH = 6;

/**
 * The ziggurat's fast path. Per draw: one layer byte (7 bits layer, 1 bit sign) and one 32-bit
 * uniform u; u * x_i is accepted when below x_{i+1} (97.2% of draws). Fills out[j..end) until done
 * or until a draw needs the wedge or tail test; then leaves its layer byte and uniform in st[6],
 * st[7] and returns its index. st[0..3]: generator words, st[4]: cached layer bits, st[5]: bytes
 * left in them. Keeping the rare tests out of this loop keeps it ~25% faster.
 */
function zigguratRun(st: Int32Array, out: Float64Array, j: number, end: number): number {
  let s0 = st[0]!, s1 = st[1]!, s2 = st[2]!, s3 = st[3]!;
  let bits = st[4]!, left = st[5]!;
  let m: number, t: number, r: number;
  const zk = ZK, zws = ZWS; // module bindings into locals
  while (j < end) {
    if (left === 0) {
      m = Math.imul(s1, 5);
      r = Math.imul((m << 7) | (m >>> 25), 9);
      t = s1 << 9; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      bits = r;
      left = 4;
    }
    const byte = bits & 255;
    bits >>>= 8;
    left--;
    const i = byte & 127;
    m = Math.imul(s1, 5);
    r = Math.imul((m << 7) | (m >>> 25), 9);
    t = s1 << 9; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
    const u = r >>> 0;
    if (u < zk[i]!) {
      out[j++] = u * zws[byte]!; // byte & 128 ? -u * ZW[i] : u * ZW[i]
      continue;
    }
    st[6] = byte; // rare event: wedge or tail, handled by the caller
    st[7] = r;
    break;
  }
  st[0] = s0; st[1] = s1; st[2] = s2; st[3] = s3;
  st[4] = bits; st[5] = left;
  return j;
}

export class Rng {
  /**
   * xoshiro128** state s0..s3 (as int32), the cached layer bits and how many bytes of them are
   * left (slots 4, 5); slots 6, 7 pass a tail event out of `zigguratRun`.
   */
  private readonly s = new Int32Array(8);

  /** `seed`: any finite number (integers up to 2^53 keep all their bits; others are hashed via their float64 bits). */
  constructor(seed = 0) {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${String(seed)}`);
    let x: bigint;
    if (Number.isSafeInteger(seed)) x = BigInt.asUintN(64, BigInt(seed));
    else {
      const dv = new DataView(new ArrayBuffer(8));
      dv.setFloat64(0, seed);
      x = dv.getBigUint64(0);
    }
    let a: bigint, b: bigint;
    [x, a] = splitmix64(x);
    [, b] = splitmix64(x);
    this.s[0] = Number(a & 0xffffffffn) | 0;
    this.s[1] = Number(a >> 32n) | 0;
    this.s[2] = Number(b & 0xffffffffn) | 0;
    this.s[3] = Number(b >> 32n) | 0;
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // all-zero is a fixed point
  }

  /** Next 32 random bits as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    return xoshiroNext(this.s);
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    return xoshiroDouble(this.s);
  }

  /** One standard normal N(0, 1) (ziggurat). */
  normal(): number {
    for (;;) {
      const st = this.s;
      if (st[5] === 0) {
        st[4] = this.nextUint32();
        st[5] = 4;
      }
      const byte = st[4]! & 255;
      st[4] = st[4]! >>> 8;
      st[5] = st[5]! - 1;
      const i = byte & 127;
      const u = this.nextUint32();
      if (u < ZK[i]!) return u * ZWS[byte]!;
      if (i === 0) {
        const x = this.tail(u);
        return byte & 128 ? -x : x;
      }
      const x = u * ZWS[byte]!;
      if (wedgeAccepts(this.s, i, x)) return x;
    }
  }

  private tail(u: number): number {
    return zigguratTail(this.s, u);
  }

  /**
   * Fill out[start..end) with independent standard normals; allocation-free. Same stream as calling
   * `normal()` end-start times.
   */
  fillNormal(out: Float64Array, start = 0, end = out.length): void {
    const st = this.s;
    let j = start;
    while (j < end) {
      j = zigguratRun(st, out, j, end);
      if (j < end) {
        // rare event (2.8% of draws): layer byte st[6], uniform st[7]; same tests as normal()
        const byte = st[6]!, u = st[7]! >>> 0, i = byte & 127;
        if (i === 0) {
          const x = this.tail(u);
          out[j++] = byte & 128 ? -x : x;
        } else {
          const x = u * ZWS[byte]!;
          if (wedgeAccepts(this.s, i, x)) out[j++] = x;
        }
      }
    }
  }

  /** Complete state as JSON-safe numbers: [s0, s1, s2, s3 (uint32), cached bits (uint32), bytes left]. */
  getState(): number[] {
    return [this.s[0]! >>> 0, this.s[1]! >>> 0, this.s[2]! >>> 0, this.s[3]! >>> 0, this.s[4]! >>> 0, this.s[5]!];
  }

  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== STATE_LENGTH)
      throw new RangeError(`RNG state must be an array of ${STATE_LENGTH} numbers, got ${Array.isArray(state) ? `length ${state.length}` : typeof state}`);
    for (let i = 0; i < 5; i++) {
      const v = state[i]!;
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`RNG state[${i}] must be a uint32, got ${v}`);
    }
    const left = state[5]!;
    if (!Number.isInteger(left) || left < 0 || left > 4) throw new RangeError(`RNG state[5] must be an integer in 0..4, got ${left}`);
    if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) throw new RangeError('RNG state words must not all be zero');
    for (let i = 0; i < 4; i++) this.s[i] = state[i]! | 0;
    this.s[4] = state[4]! | 0;
    this.s[5] = left;
  }

  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  /** An independent copy continuing the same stream. */
  clone(): Rng {
    return Rng.fromState(this.getState());
  }
}
