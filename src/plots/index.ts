/** Public API of the figures: pure spec builders (data -> Vega-Lite JSON) and the Node renderer. */
export { circuitSpec, type CircuitFigureData, type CircuitSpecOptions } from './circuits.js';
export { downsampleMinMax, type Bucket } from './downsample.js';
export { dynamicsSpec, type HeadDynamics, type DynamicsSpecOptions } from './dynamics.js';
export {
  errorVsLengthSpec, headCountSpec, headCountMethods, isReferenceMethod,
  type Evaluation, type ErrorCurveOptions,
} from './error-curves.js';
export { flowSpec, trajectoryFromFlow, type WMuTrajectory, type FlowSpecOptions } from './flow.js';
export { lossSpec, type LossCurves, type LossSpecOptions } from './loss.js';
export { qkEvolutionSpec, evenIndices, type QkSnapshots, type QkEvolutionOptions } from './qk-evolution.js';
export { renderFigure, specToSvg, svgToPng, svgToPixels, type RasterOptions } from './render.js';
export { renderAllRunFigures, type RunFigureOptions, type RunFigures } from './run-figures.js';
export { readEvaluation, parseEvaluation } from './evaluation.js';
export { NAVY, WHITE, DARK_RED, SEPARATOR_GREEN, FONT_FAMILY, type VlSpec } from './theme.js';
