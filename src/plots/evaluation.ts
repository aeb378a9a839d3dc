/**
 * The evaluate command's JSON, read for the error-vs-L figures:
 * `{"lengths":[...],"methods":{"<name>":{"mse":[...],"stderr":[...]}}}` (null where undefined).
 * Light on purpose (no vega): commands can import it without loading the renderer.
 */
import { UsageError } from '../errors.js';
import { checkInputFile, readInputFile } from '../io/input-file.js';
import { FileFormatError } from '../io/safetensors.js';
import type { Evaluation } from '../analysis/evaluate.js';

/** Parse and check an evaluation JSON (`{"lengths":[...],"methods":{"<name>":{"mse":[...],"stderr":[...]}}}`). */
export function parseEvaluation(obj: unknown, source: string): Evaluation {
  const e = obj as Evaluation;
  if (typeof e !== 'object' || e === null || !Array.isArray(e.lengths) || typeof e.methods !== 'object' || e.methods === null) {
    throw new FileFormatError('not an evaluation JSON: needs "lengths": [...] and "methods": {"<name>": {"mse": [...], "stderr": [...]}}', source);
  }
  for (const [name, m] of Object.entries(e.methods)) {
    if (!m || !Array.isArray(m.mse) || m.mse.length !== e.lengths.length || (m.stderr !== undefined && (!Array.isArray(m.stderr) || m.stderr.length !== e.lengths.length))) {
      throw new FileFormatError(`method '${name}' needs "mse" (and "stderr") arrays of ${e.lengths.length} values, one per length`, source);
    }
    // JSON has no NaN: OLS is undefined for L <= d and may be written as null or "NaN".
    m.mse = m.mse.map((v) => (typeof v === 'number' ? v : Number.NaN));
    if (m.stderr) m.stderr = m.stderr.map((v) => (typeof v === 'number' ? v : Number.NaN));
  }
  return e;
}

/** Read an evaluation JSON: a regular file (a FIFO would block the read forever, /dev/zero never ends), checked before it is opened. */
export function readEvaluation(path: string): Evaluation {
  const missing = () => new UsageError(`evaluation file ${path} does not exist`);
  if (checkInputFile(path, 'evaluation JSON', missing).isDirectory()) throw new UsageError(`${path} is a directory; give the evaluation JSON file (icl-lab evaluate --out FILE)`);
  const text = readInputFile(path, 'evaluation JSON', missing).toString('utf8');
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new FileFormatError(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`, path);
  }
  return parseEvaluation(obj, path);
}
