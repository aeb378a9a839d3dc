import type { ExtrasContext, ReportExtras } from '../report/plan.js';
export async function anisotropicExtras(_o: ExtrasContext): Promise<ReportExtras> {
  return { findings: [], figures: [], md: '' };
}
