// Hash router: each route maps to an exported async function of a page module, called as fn(main, params, query).
import { session, signOut } from './api.js';
import { h, problem } from './ui.js';

const routes = [
  ['/', 'overview', 'overview', 'render'],
  ['/services', 'services', 'services', 'list'],
  ['/services/:id', 'services', 'services', 'detail'],
  ['/adapters', 'adapters', 'adapters', 'list'],
  ['/adapters/new', 'adapters', 'adapters', 'create'],
  ['/adapters/:id', 'adapters', 'adapters', 'detail'],
  ['/jobs', 'jobs', 'jobs', 'search'],
  ['/jobs/:id', 'jobs', 'jobs', 'detail'],
  ['/offers/:id', 'jobs', 'jobs', 'offer'],
  ['/operations', 'operations', 'operations', 'render'],
  ['/templates', 'templates', 'templates', 'list'],
  ['/templates/:id', 'templates', 'templates', 'detail'],
  ['/erasures', 'erasures', 'erasures', 'render'],
  ['/signin', 'signin', null, 'render'],
].map(([pattern, module, nav, fn]) => ({ parts: pattern.split('/').filter(Boolean), module, nav, fn }));

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.parts.length !== parts.length) continue;
    const params = {};
    if (route.parts.every((p, i) => p.startsWith(':') ? (params[p.slice(1)] = decodeURIComponent(parts[i]), true) : p === parts[i]))
      return { route, params };
  }
  return null;
}

let signedIn = null; // the session (actor, csrfToken) or null

function showNav(current) {
  const nav = document.getElementById('nav');
  nav.hidden = !signedIn;
  document.getElementById('actor').textContent = signedIn ? `Signed in as ${signedIn.actor}` : '';
  for (const link of nav.querySelectorAll('a[data-route]')) {
    if (link.dataset.route === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

let rendering = 0;

async function render() {
  const ticket = ++rendering;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, queryText] = hash.split('?');
  const main = document.getElementById('main');
  if (path === '/signin') signedIn = null; // api.js comes here on a 401: the session is gone
  if (!signedIn && path !== '/signin') {
    signedIn = await session().catch(() => null);
    if (!signedIn) { location.hash = '#/signin'; return; }
  }
  const found = match(path) || { route: null, params: {} };
  showNav(found.route && found.route.nav);
  main.replaceChildren();
  if (!found.route) { main.append(h('h1', null, 'Not found'), h('p', null, 'No page has this address.')); return; }
  try {
    const module = await import(`./pages/${found.route.module}.js`);
    if (ticket !== rendering) return; // a newer navigation took over
    await module[found.route.fn](main, found.params, new URLSearchParams(queryText || ''));
  } catch (error) {
    if (ticket !== rendering) return;
    main.append(problem(error));
  }
  if (ticket === rendering) main.focus({ preventScroll: true });
}

/** Called by the sign-in page once the session exists. */
export function signedInAs(value) { signedIn = value; }

document.getElementById('signout').addEventListener('click', async () => {
  try { await signOut(); } finally { signedIn = null; location.hash = '#/signin'; render(); }
});
// The skip link must not change the hash (that is the router's): it moves the focus instead.
document.querySelector('.skip-link').addEventListener('click', event => {
  event.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', render);
render();
