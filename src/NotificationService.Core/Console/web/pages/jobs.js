// Placeholder until the jobs pages land: the routes resolve and say so.
import { h, setTitle } from '../ui.js';

export async function search(main) {
  setTitle('Jobs');
  main.append(h('h1', null, 'Jobs'), h('p', null, 'coming'));
}

export async function detail(main) {
  setTitle('Jobs');
  main.append(h('h1', null, 'Jobs'), h('p', null, 'coming'));
}

export async function offer(main) {
  setTitle('Jobs');
  main.append(h('h1', null, 'Jobs'), h('p', null, 'coming'));
}

