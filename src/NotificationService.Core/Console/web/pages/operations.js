// Placeholder until the operations pages land: the routes resolve and say so.
import { h, setTitle } from '../ui.js';

export async function render(main) {
  setTitle('Operations');
  main.append(h('h1', null, 'Operations'), h('p', null, 'coming'));
}

