// The weighted sums over a prompt's tokens that the backward passes need, per lane of a v128:
//   outA[e] = sum_i A[i] z_ie,  outB[e] = sum_i B[i] z_ie   (e < E)
// z: L tokens of E doubles from z0 (the batch layout), the same for both lanes (heads in lanes), or
// with `twoPrompts` lane 0 from z0 and lane 1 from z1 (prompts in lanes); A, B: one v128 per token
// (e.g. e_hi and e_hi v_hi); outA, outB: one v128 per coordinate. Each sum runs in token order, so
// grouping coordinates (three per pass over the tokens, then two, then one) changes no double.

// @ts-ignore: decorator
@inline
function zAt(p0: usize, p1: usize, twoPrompts: bool): v128 {
  return twoPrompts ? v128.load64_lane(p1, v128.load64_splat(p0), 1) : v128.load64_splat(p0);
}

// @ts-ignore: decorator
@inline
export function weightedTokenSums(z0: usize, z1: usize, twoPrompts: bool, E: i32, L: i32, A: usize, B: usize, outA: usize, outB: usize): void {
  const stride = <usize>E << 3;
  let e = 0;
  // three coordinates at a time: six independent chains
  for (; e + 2 < E; e += 3) {
    let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0);
    let b0 = f64x2.splat(0), b1 = f64x2.splat(0), b2 = f64x2.splat(0);
    let t = z0 + (<usize>e << 3), u = z1 + (<usize>e << 3);
    for (let i = 0; i < L; i++) {
      const wa = v128.load(A + (<usize>i << 4)), wb = v128.load(B + (<usize>i << 4));
      let zz = zAt(t, u, twoPrompts);
      a0 = f64x2.add(a0, f64x2.mul(wa, zz));
      b0 = f64x2.add(b0, f64x2.mul(wb, zz));
      zz = zAt(t + 8, u + 8, twoPrompts);
      a1 = f64x2.add(a1, f64x2.mul(wa, zz));
      b1 = f64x2.add(b1, f64x2.mul(wb, zz));
      zz = zAt(t + 16, u + 16, twoPrompts);
      a2 = f64x2.add(a2, f64x2.mul(wa, zz));
      b2 = f64x2.add(b2, f64x2.mul(wb, zz));
      t += stride;
      u += stride;
    }
    const oa = outA + (<usize>e << 4), ob = outB + (<usize>e << 4);
    v128.store(oa, a0);
    v128.store(oa, a1, 16);
    v128.store(oa, a2, 32);
    v128.store(ob, b0);
    v128.store(ob, b1, 16);
    v128.store(ob, b2, 32);
  }
  // then two coordinates at a time: four chains
  for (; e + 1 < E; e += 2) {
    let a0 = f64x2.splat(0), b0 = f64x2.splat(0), a1 = f64x2.splat(0), b1 = f64x2.splat(0);
    let t = z0 + (<usize>e << 3), u = z1 + (<usize>e << 3);
    for (let i = 0; i < L; i++) {
      const wa = v128.load(A + (<usize>i << 4)), wb = v128.load(B + (<usize>i << 4));
      const za = zAt(t, u, twoPrompts), zb = zAt(t + 8, u + 8, twoPrompts);
      a0 = f64x2.add(a0, f64x2.mul(wa, za));
      b0 = f64x2.add(b0, f64x2.mul(wb, za));
      a1 = f64x2.add(a1, f64x2.mul(wa, zb));
      b1 = f64x2.add(b1, f64x2.mul(wb, zb));
      t += stride;
      u += stride;
    }
    v128.store(outA + (<usize>e << 4), a0);
    v128.store(outB + (<usize>e << 4), b0);
    v128.store(outA + (<usize>(e + 1) << 4), a1);
    v128.store(outB + (<usize>(e + 1) << 4), b1);
  }
  if (e < E) {
    let a = f64x2.splat(0), b = f64x2.splat(0);
    let t = z0 + (<usize>e << 3), u = z1 + (<usize>e << 3);
    for (let i = 0; i < L; i++) {
      const ze = zAt(t, u, twoPrompts);
      a = f64x2.add(a, f64x2.mul(v128.load(A + (<usize>i << 4)), ze));
      b = f64x2.add(b, f64x2.mul(v128.load(B + (<usize>i << 4)), ze));
      t += stride;
      u += stride;
    }
    v128.store(outA + (<usize>e << 4), a);
    v128.store(outB + (<usize>e << 4), b);
  }
}
