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
  let trouble = null; // a sign-out that failed on the way to #/signin
  if (path === '/signin') {
    // Arriving here with a live session (typed, bookmarked, Back) signs it out on the server too: the form must not
    // leave a session behind that the user believes is gone. api.js comes here on a 401, when it is already gone.
    signedIn = null;
    trouble = await session().then(live => live && signOut()).then(() => null, error => error);
  } else if (!signedIn) {
    signedIn = await session().catch(() => null);
    if (ticket !== rendering) return;
    if (!signedIn) { location.hash = '#/signin'; return; }
  }
  if (ticket !== rendering) return; // a newer navigation took over
  const found = match(path) || { route: null, params: {} };
  showNav(found.route && found.route.nav);
  // Each render fills its own container: a page still awaiting an answer after the reader went elsewhere writes into
  // a detached node (and its isConnected loops stop) instead of into the next page.
  const view = h('div', { class: 'view' });
  main.replaceChildren(view);
  if (trouble) view.append(problem(trouble));
  if (!found.route) { view.append(h('h1', null, 'Not found'), h('p', null, 'No page has this address.')); return; }
  try {
    const module = await import(`./pages/${found.route.module}.js`);
    if (ticket !== rendering) return;
    await module[found.route.fn](view, found.params, new URLSearchParams(queryText || ''));
  } catch (error) {
    if (ticket !== rendering) return;
    view.append(problem(error));
  }
  // The new page gets the focus, unless it put it somewhere itself (the sign-in form on its key field).
  if (ticket === rendering && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

/** Called by the sign-in page once the session exists. */
export function signedInAs(value) { signedIn = value; }

document.getElementById('signout').addEventListener('click', async () => {
  try {
    await signOut();
  } catch (error) {
    // The session may still be alive: say so where the reader is, rather than show a sign-in form that lies.
    const main = document.getElementById('main');
    main.querySelector(':scope > .signout-problem')?.remove();
    main.prepend(h('div', { class: 'signout-problem' }, h('p', null, 'Signing out failed; you may still be signed in.'), problem(error)));
    return;
  }
  signedIn = null;
  location.hash = '#/signin';
});
// The skip link must not change the hash (that is the router's): it moves the focus instead.
document.querySelector('.skip-link').addEventListener('click', event => {
  event.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', render);
render();
