/**
 * A model trained by the seed's own PyTorch code (/work/shared/reference/seed_ref.py:
 * torch.manual_seed(1024); run_experiment(seed_config_H(2, training_steps=3001)) on CPU), saved with
 * safetensors.torch.save_file(model.state_dict()) — float32, including the unused final_linear.weight —
 * and what the seed's calculate_statistics(model, 5) printed for it.
 */
export const SEED_MODEL_BASE64 =
  'sAEAAAAAAAB7ImF0dGVudGlvbl9sYXllci5rX3Byb2oud2VpZ2h0Ijp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsxMiw2XSwiZGF0' +
  'YV9vZmZzZXRzIjpbMCwyODhdfSwiYXR0ZW50aW9uX2xheWVyLm9fcHJvai53ZWlnaHQiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6' +
  'WzEsMTJdLCJkYXRhX29mZnNldHMiOlsyODgsMzM2XX0sImF0dGVudGlvbl9sYXllci5xX3Byb2oud2VpZ2h0Ijp7ImR0eXBlIjoi' +
  'RjMyIiwic2hhcGUiOlsxMiw2XSwiZGF0YV9vZmZzZXRzIjpbMzM2LDYyNF19LCJhdHRlbnRpb25fbGF5ZXIudl9wcm9qLndlaWdo' +
  'dCI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMTIsNl0sImRhdGFfb2Zmc2V0cyI6WzYyNCw5MTJdfSwiZmluYWxfbGluZWFyLndl' +
  'aWdodCI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMSw2XSwiZGF0YV9vZmZzZXRzIjpbOTEyLDkzNl19fSAgICBD/U0+nA4av0In' +
  'tj6Qhku/u90FPVRNKD4/MW8+3oZFvun2hz/Oze8+4xRvvifxzL0Mipw+pFXWPh3Ypj7HmIW+am9JP4FPMz7/hxa/geqTvVHdVz50' +
  '3lw+crt4Pbsv+7w8rB+/OwOUPszTnD4ThMm9SSOCvcRWsb3HE5Q+S9rZPgbX6j30S4++V38Nv1EV1LwtLeu+MmGEO03k/r2oV5o+' +
  'fXZQPhNZrb6LKLQ+B/xKvm5EBr/4Fqa8w1pEPlMmdr67hVu+TynaPs0eAz8gDzC/NkiUPWqBor3rBRQ/JkiPPiNYET2e/ms9FXU4' +
  'vpIXn76nXnG+/HlkvsubgT0YneG+VIsCvwNHtr11MwS9LKC9PvQGO7+NzKS+SCZvPifL8T08jFW+FkQbv7WAND8mkRS9yE4+vzEW' +
  'Nj98fuQ+a/sZv4tRYr5fEjS/psqyvYAZRj/f6ZS8edERP8ifMb60XA0/5ak6vWeFSj4b5zG+PZZyPemzE7+o4K6+IHUIPv6Bx77g' +
  '9nO+OdW2vtR8k77I+949x9Ucv11hKj6VKP4+ISwQPu9XbL2SgCG+qCSAvYVTbz54Nhw/unm9vpEklL7344A+galQPSYAwT73ZJK+' +
  't8kMv2hmdb3jU7Q+dCssP1nqor7hHxm++HGAvWMttL2R2wi9OMbXPo+4vj38Bco9pgGavjMnBL5mcaW+MAfWPVFelzzu6Dm+GbaT' +
  'PmoIlT67dvu+3nxaPihasz5dE+Y+f3J2PiHwGL2kMAI+/sRdPQFXar6S1wa+1jikvpr6gb2sed2++kPivrqo1Dvxzwm+gL/GPnSJ' +
  '3L7Ln2+97GGOPCNuxT2AkT4/4wcov3NSSj5VMxU/qmMSP2ToNj4P1NO+w3iEPYK73D50SoS+74uHPkZpJD+23be+9JakPuSXpj4u' +
  '1qM8oHdfPhtJD79NEA+/ANigPreOmL1E5JG9Hc/Oviz0Bj29mr6+1quKPsCovr1z0IQ+kkM9vheCFD+kqEK+uSujviuyIz3elRU+' +
  'bMEJPteEE7+124G9n58UP1iGMD4DEZI+ILkVv5BXaj6GfzY+bGdVPYdhfD3I4W2+xTNevmSuT785yta9fyUmv/RU0z6HZcK+TuoU' +
  'PzoLBr5KwSw+ifMZPXI50L2HjKq9iYSgvB/sDL99kIU+eoW9PbrHsj5ycty+47cqPw7BOT03bN2+ufN4PkPIkbwc9HA+nyscv33F' +
  'CT9A4BA+EmZzvpGvBr4/O4c+YNdFvuuto70=';

export const SEED_STATISTICS_PRINTOUT: string[] = [
  'Layer 0, Head 0: w^h = -0.3496, variance of first 5 diagonal elements = 0.0002, sup-norm of rest of d x d block entries = 0.0499',
  'Layer 0, Head 0: mu^h = -1.6637, sup-norm of rest of OV entries = 0.1218',
  'Layer 0, Head 1: w^h = 0.1904, variance of first 5 diagonal elements = 0.0010, sup-norm of rest of d x d block entries = 0.0837',
  'Layer 0, Head 1: mu^h = 1.4187, sup-norm of rest of OV entries = 0.7756',
  '',
  'Summary of w^h and mu^h for each head:',
  'Head 0: mu^h = -1.6637, w^h = -0.3496',
  'Head 1: mu^h = 1.4187, w^h = 0.1904',
  '',
  'Hypothesized value of w^h: 1/sqrt(d) = 0.4472'
];
