import { api } from '../api.js';
import { h, setTitle, table } from '../ui.js';

/** The overview: what the service is doing now. */
export async function render(main) {
  setTitle('Overview');
  main.append(h('h1', null, 'Overview'));
  const adapters = await api('GET', '/admin/adapters?pageSize=100');
  main.append(h('h2', null, 'Adapters'), table([
    { title: 'Adapter', cell: a => h('a', { href: `#/adapters/${a.id}` }, a.name) },
    { title: 'Type', cell: a => a.type },
    { title: 'Status', cell: a => String(a.status ?? '') },
  ], adapters.items || adapters, 'Adapters'));
}
