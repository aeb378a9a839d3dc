/** The lab: a header with the views, and the view the hash names. */
import { STATIC_PAGE, useHash } from './api';
import { CompareView } from './views/compare';
import { OverlayView } from './views/overlay';
import { ReportView } from './views/report';
import { RunView } from './views/run';
import { RunsView } from './views/runs';
import { SweepView } from './views/sweep';
import { Playground } from './playground/playground';

export function App() {
  const hash = useHash();
  const [route, query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  let view;
  let tab = 'runs';
  // keyed by the whole hash: a link to another shift (?shift=...) opens the view anew
  if (route!.startsWith('/run/')) view = <RunView key={hash} path={decodeURIComponent(route!.slice(5))} />;
  else if (route === '/compare') view = <CompareView paths={params.getAll('path')} />;
  else if (route === '/overlay') view = <OverlayView key={hash} paths={params.getAll('path')} metric={params.get('metric') ?? 'loss'} />;
  else if (route!.startsWith('/report/')) view = <ReportView path={decodeURIComponent(route!.slice(8))} />;
  else if (route!.startsWith('/sweep/')) view = <SweepView path={decodeURIComponent(route!.slice(7))} />;
  else if (route === '/playground') {
    view = <Playground />;
    tab = 'playground';
  } else view = <RunsView />;
  return (
    <>
      <header>
        <a href="#/" class="brand">icl-lab</a>
        <nav>
          <a href="#/" class={tab === 'runs' ? 'active' : ''}>Runs</a>
          <a href="#/playground" class={tab === 'playground' ? 'active' : ''}>Playground</a>
        </nav>
        <span class="muted small">attention models (softmax or linear) learning linear regression in context</span>
        {STATIC_PAGE && <span class="muted small" data-testid="static-page"> · static page: no live updates (drop ?static from the address for them)</span>}
      </header>
      <main>{view}</main>
    </>
  );
}
