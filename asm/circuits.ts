// The circuits of every head in the kernels' pair-interleaved layout (lane l of pair p = head 2p + l;
// an odd H's padding lane is 0), from theta [q | k | v | o] (nn.Linear layouts, o_proj (N, E H)):
//   A [P, E, E]  A_h = Wq_h^T Wk_h / sqrt(E)        U [P, E, N]  U_h = Wv_h^T Wo_h^T  (N = 1: u_h)
// and back: the gradients dA_h, dU_h (same layout) to d theta. Used by the single-task kernel
// (asm/attention.ts, N = 1) and the multi-task kernel (asm/multitask.ts).

export function pairCircuits(theta: usize, E: i32, H: i32, N: i32, P: i32, A: usize, U: usize): void {
  const EE = E * E, w = <usize>(H * EE) << 3, EH = E * H;
  const q = theta, k = theta + w, v = theta + 2 * w, o = theta + 3 * w;
  const scale = 1.0 / Math.sqrt(<f64>E);
  for (let h = 0; h < 2 * P; h++) {
    const lane = <usize>(h & 1) << 3, pb = <usize>(h >> 1);
    const wb = <usize>(h * EE);
    for (let a = 0; a < E; a++) {
      for (let c = 0; c < E; c++) {
        let s: f64 = 0;
        if (h < H) for (let r = 0; r < E; r++) s += load<f64>(q + ((wb + <usize>(r * E + a)) << 3)) * load<f64>(k + ((wb + <usize>(r * E + c)) << 3));
        store<f64>(A + ((pb * <usize>EE + <usize>(a * E + c)) << 4) + lane, s * scale);
      }
      for (let n = 0; n < N; n++) {
        let s: f64 = 0;
        if (h < H) for (let r = 0; r < E; r++) s += load<f64>(v + ((wb + <usize>(r * E + a)) << 3)) * load<f64>(o + (<usize>(n * EH + h * E + r) << 3));
        store<f64>(U + ((pb * <usize>(E * N) + <usize>(a * N + n)) << 4) + lane, s);
      }
    }
  }
}

/** dA_h, dU_h (pair-interleaved, as pairCircuits writes A, U) -> d theta [dWq | dWk | dWv | dWo] (as engine/ts's backToWeights) */
export function pairCircuitsBack(theta: usize, grad: usize, E: i32, H: i32, N: i32, DA: usize, DU: usize): void {
  const EE = E * E, EN = E * N, EH = E * H, w = <usize>(H * EE) << 3;
  const q = theta, k = theta + w, v = theta + 2 * w, o = theta + 3 * w;
  const scale = 1.0 / Math.sqrt(<f64>E);
  for (let h = 0; h < H; h++) {
    const wb = <usize>(h * EE);
    const lane = <usize>(h & 1) << 3;
    const DAh = DA + ((<usize>(h >> 1) * <usize>EE) << 4) + lane;
    const DUh = DU + ((<usize>(h >> 1) * <usize>EN) << 4) + lane;
    for (let r = 0; r < E; r++) {
      for (let a = 0; a < E; a++) {
        let sq: f64 = 0, sk: f64 = 0;
        for (let c = 0; c < E; c++) {
          sq += load<f64>(k + ((wb + <usize>(r * E + c)) << 3)) * load<f64>(DAh + (<usize>(a * E + c) << 4));
          sk += load<f64>(q + ((wb + <usize>(r * E + c)) << 3)) * load<f64>(DAh + (<usize>(c * E + a) << 4));
        }
        let sv: f64;
        if (N == 1) sv = load<f64>(o + (<usize>(h * E + r) << 3)) * load<f64>(DUh + (<usize>a << 4)); // one product: no 0 + (keeps -0)
        else {
          sv = 0;
          for (let n = 0; n < N; n++) sv += load<f64>(o + (<usize>(n * EH + h * E + r) << 3)) * load<f64>(DUh + (<usize>(a * N + n) << 4));
        }
        const gi = (wb + <usize>(r * E + a)) << 3;
        store<f64>(grad + gi, sq * scale);
        store<f64>(grad + w + gi, sk * scale);
        store<f64>(grad + 2 * w + gi, sv);
      }
      for (let n = 0; n < N; n++) {
        let so: f64 = 0;
        for (let e = 0; e < E; e++) so += load<f64>(DUh + (<usize>(e * N + n) << 4)) * load<f64>(v + ((wb + <usize>(r * E + e)) << 3));
        store<f64>(grad + 3 * w + (<usize>(n * EH + h * E + r) << 3), so);
      }
    }
  }
}
