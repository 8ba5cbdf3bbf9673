// Placeholder until the services pages land: the routes resolve and say so.
import { h, setTitle } from '../ui.js';

export async function list(main) {
  setTitle('Services');
  main.append(h('h1', null, 'Services'), h('p', null, 'coming'));
}

export async function detail(main) {
  setTitle('Services');
  main.append(h('h1', null, 'Services'), h('p', null, 'coming'));
}

