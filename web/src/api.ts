/** The lab's API (routes and shapes: src/serve/api.ts), the live event stream, and the hash router. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiUrl, LIVE_EVENTS, type ApiError, type LiveEventName, type LiveEvents } from '../../src/serve/api.js';

export * from '../../src/serve/api.js';

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { cache: 'no-store' });
  const body = (await res.json()) as T | ApiError;
  if (!res.ok) throw new Error((body as ApiError).error ?? `${res.status} ${res.statusText}`);
  return body as T;
}

export const q = (path: string): string => encodeURIComponent(path);

/** What a listener hears: an event's name and its data. */
export type LiveEvent = { [E in LiveEventName]: { event: E; data: LiveEvents[E] } }[LiveEventName];
type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();
let source: EventSource | null = null;

/**
 * `?static` in the page's address (before the #): the page loads its data once and opens no live
 * stream. For headless screenshots: Chromium's --virtual-time-budget does not advance virtual time
 * while a request is open, and the live stream stays open, so without it the recipe never returns.
 */
export const STATIC_PAGE: boolean = typeof location !== 'undefined' && new URLSearchParams(location.search).has('static');

/** One EventSource for the page (none on a static page); `fn` hears `index` and `run` events. */
export function useLiveEvents(fn: Listener, deps: unknown[]): void {
  useEffect(() => {
    if (STATIC_PAGE) return;
    if (!source) {
      source = new EventSource(apiUrl.events());
      for (const event of LIVE_EVENTS) {
        source.addEventListener(event, (e) => {
          const live = { event, data: JSON.parse((e as MessageEvent).data as string) } as LiveEvent;
          for (const l of listeners) l(live);
        });
      }
    }
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }, deps);
}

/** The part of location.hash after '#', e.g. '/run/repro/h2'. */
export function useHash(): string {
  const [hash, setHash] = useState(() => location.hash.slice(1) || '/');
  useEffect(() => {
    const on = () => setHash(location.hash.slice(1) || '/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export const fmt = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(digits);
export const int = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));

/**
 * A logged step index as the weights it shows: "after 3,000 steps". The logs (snapshot_step, val_step,
 * dyn_step) hold the 0-based index of the step after whose update they were taken, so index i is
 * i + 1 steps done: the same number as the run's step count and its "val. X after N steps".
 */
export const afterSteps = (index: number): string => `after ${int(index + 1)} step${index === 0 ? '' : 's'}`;

/**
 * JSON from `url`, fetched again when a live event `match`es. At most one request in flight: events
 * that arrive meanwhile cause one more fetch when it ends (a busy run never starves the page), and
 * a response for an older url is dropped. The last data stays shown while the next one loads.
 */
export function useLiveJson<T>(url: string, match: (e: LiveEvent) => boolean): { data: T | null; error: string | null } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const s = useRef({ url, busy: false, again: false });
  const load = (): void => {
    const st = s.current;
    if (st.busy) {
      st.again = true;
      return;
    }
    st.busy = true;
    const u = st.url;
    getJson<T>(u)
      .then((d) => {
        if (s.current.url === u) {
          setData(d);
          setError(null);
        }
      })
      .catch((e: Error) => {
        if (s.current.url === u) setError(e.message);
      })
      .finally(() => {
        st.busy = false;
        if (st.again) {
          st.again = false;
          load();
        }
      });
  };
  useEffect(() => {
    s.current.url = url;
    load();
  }, [url]);
  useLiveEvents((e) => {
    if (match(e)) load();
  }, [url]);
  return { data, error };
}
