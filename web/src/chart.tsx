/** A Vega-Lite spec (from src/plots/ or src/serve/figures.ts) rendered with vega-embed. */
import { useEffect, useRef } from 'preact/hooks';
import embed, { type Result } from 'vega-embed';

export type Spec = Record<string, unknown>;

export function VegaChart(props: { spec: Spec | null; testId?: string; renderer?: 'svg' | 'canvas'; className?: string }) {
  const el = useRef<HTMLDivElement>(null);
  const view = useRef<Result | null>(null);
  useEffect(() => {
    if (!el.current || !props.spec) return;
    let cancelled = false;
    const target = el.current;
    // the "…" menu of every chart: save it as SVG or PNG (vega-embed's export actions; no editor links)
    embed(target, props.spec as never, { actions: { export: { svg: true, png: true }, source: false, compiled: false, editor: false }, renderer: props.renderer ?? 'svg', tooltip: true })
      .then((r) => {
        if (cancelled) r.finalize();
        else {
          view.current?.finalize();
          view.current = r;
        }
      })
      .catch((e: Error) => {
        target.textContent = `figure error: ${e.message}`;
      });
    return () => {
      cancelled = true;
    };
  }, [props.spec]);
  useEffect(() => () => view.current?.finalize(), []);
  return <div ref={el} class={`chart ${props.className ?? ''}`} data-testid={props.testId} />;
}
