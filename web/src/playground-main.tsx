/** The playground alone (playground.html): a static page, no server needed. */
import { render } from 'preact';
import { Playground } from './playground/playground';
import './style.css';

render(
  <>
    <header><span class="brand">icl-lab</span><span class="muted small">playground — runs entirely in this browser</span></header>
    <main><Playground /></main>
  </>,
  document.getElementById('app')!,
);
