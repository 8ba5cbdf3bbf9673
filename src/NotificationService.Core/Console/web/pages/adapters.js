// Placeholder until the adapters pages land: the routes resolve and say so.
import { h, setTitle } from '../ui.js';

export async function list(main) {
  setTitle('Adapters');
  main.append(h('h1', null, 'Adapters'), h('p', null, 'coming'));
}

export async function create(main) {
  setTitle('Adapters');
  main.append(h('h1', null, 'Adapters'), h('p', null, 'coming'));
}

export async function detail(main) {
  setTitle('Adapters');
  main.append(h('h1', null, 'Adapters'), h('p', null, 'coming'));
}

