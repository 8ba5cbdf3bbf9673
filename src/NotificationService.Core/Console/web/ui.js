// Small DOM helpers. Data only ever enters the page as text nodes or attribute values, never as HTML.
import { api } from './api.js';

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'required', 'readOnly', 'multiple']);

/**
 * h('a', {href: '#/jobs/1', class: 'x'}, 'text', child) -> element. on* attributes take functions; strings and numbers
 * become text nodes; null, undefined and false children are skipped; arrays are flattened.
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) { if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value); }
    else if (name === 'class') element.className = value;
    else if (name === 'for') element.htmlFor = value;
    else if (PROPERTIES.has(name)) element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** Sets the tab's title; `within` (a node of the page) skips it once the reader went to another page meanwhile. */
export function setTitle(text, within) {
  if (within && !within.isConnected) return;
  document.title = `${text} · Notification Service`;
}

export function go(hash) { location.hash = hash.startsWith('#') ? hash : `#${hash}`; }

/** An ApiError (or any error) as a box: title, detail and each field error with its JSON path. */
export function problem(error) {
  const p = (error && error.problem) || { title: (error && error.message) || String(error) };
  const errors = p.errors && typeof p.errors === 'object' ? Object.entries(p.errors) : [];
  return h('div', { class: 'problem', role: 'alert' },
    h('strong', null, p.title || 'Something went wrong'),
    error && error.status ? h('span', { class: 'muted' }, ` (HTTP ${error.status})`) : null,
    p.detail ? h('p', null, p.detail) : null,
    errors.length ? h('ul', null, errors.flatMap(([path, messages]) =>
      (Array.isArray(messages) ? messages : [messages]).map(m => h('li', null, h('code', null, path), ': ', String(m))))) : null);
}

/**
 * columns: [{title, cell: row => node|string, class?}] -> <table>, named for screen readers (which list tables by name):
 * `caption` is a visible caption, or {labelledBy: id} names it after a heading already on the page.
 */
export function table(columns, rows, caption) {
  const labelledBy = caption && typeof caption === 'object' ? caption.labelledBy : null;
  return h('table', { 'aria-labelledby': labelledBy },
    caption && !labelledBy ? h('caption', null, caption) : null,
    h('thead', null, h('tr', null, columns.map(c => h('th', { scope: 'col', class: c.class }, c.title)))),
    h('tbody', null, rows.length === 0
      ? h('tr', null, h('td', { colspan: columns.length, class: 'muted' }, 'None.'))
      : rows.map(row => h('tr', null, columns.map(c => h('td', { class: c.class }, c.cell(row)))))));
}

let ids = 0;

/** <label for> + the input (given an id if it has none) + an optional hint tied to it with aria-describedby. */
export function field(label, input, hint) {
  if (!input.id) input.id = `field-${++ids}`;
  const hintNode = hint ? h('div', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintNode) input.setAttribute('aria-describedby', hintNode.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintNode);
}

/** button('Save', fn, {kind: 'primary'|'danger', type}) */
export function button(text, onclick, options = {}) {
  return h('button', { type: options.type || 'button', class: options.kind ? `button ${options.kind}` : 'button', onclick }, text);
}

export function confirm(text) { return window.confirm(text); }

/**
 * An id as the lists show it: its last eight hex digits, random in every id NS issues. The first ones of a time-ordered
 * id (offers and jobs, UUIDv7) are its creation time, the same for every job of the same minute. The full id is the link.
 * Not for a dead letter's id (Wolverine's, sequential, differing only in the middle): shown whole.
 */
export function shortId(id) { return String(id).slice(-8); }

/** A <time> showing an ISO date-time in the reader's locale (the exact value in datetime and the tooltip). */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('span', null, String(iso));
  return h('time', { datetime: date.toISOString(), title: date.toISOString() },
    date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }));
}

/** "Loading…" while a page fetches, replaced by what the page renders. */
export function loading() { return h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading…'); }

/** A job's states in their lifecycle order (the overview's columns, the search's choices). */
export const STATES = ['Scheduled', 'Queued', 'Started', 'Finished', 'Failed', 'Expired', 'Canceled'];

/** A datetime-local value (the reader's time zone) as the UTC ISO instant the API takes; '' when empty. */
export function toUtc(local) { return local ? new Date(local).toISOString() : ''; }

/** Service names by id (GET /admin/services), for tables and filters; empty when the list cannot be read. */
export async function serviceNames() {
  try {
    const services = await api('GET', '/admin/services');
    return new Map((Array.isArray(services) ? services : services.items || []).map(s => [s.id, s.name]));
  } catch { return new Map(); }
}

/** The name of one service (GET /admin/services/{id}) as a one-entry map like serviceNames'; empty when it cannot be read. */
export async function serviceName(id) {
  try {
    const service = await api('GET', `/admin/services/${encodeURIComponent(id)}`);
    return new Map([[service.id, service.name]]);
  } catch { return new Map(); }
}

/** A <select> of services by name (values are ids), "Any" first; `current` stays selectable even if not listed. */
export function serviceSelect(name, current, names) {
  const select = h('select', { name }, h('option', { value: '' }, 'Any'));
  const fillFrom = map => {
    const entries = [...map].sort((a, b) => a[1].localeCompare(b[1]));
    if (current && !map.has(current)) entries.unshift([current, current]);
    select.replaceChildren(h('option', { value: '' }, 'Any'),
      ...entries.map(([id, label]) => h('option', { value: id, selected: id === current }, label)));
  };
  fillFrom(new Map());
  Promise.resolve(names).then(fillFrom);
  return select;
}

/** The page size a list uses: the hash's `pageSize` (1 to 200; tests use small ones) or `fallback`. */
export function pageSizeOf(query, fallback) {
  const size = Number.parseInt((query && query.get('pageSize')) || '', 10);
  return size >= 1 && size <= 200 ? size : fallback;
}

/**
 * A list that pages by cursor inside `slot`: `load(after)` reads one page ({items, next}; after is null for the first),
 * `render(page)` draws its rows. "Next page" follows `next`; "Previous page" goes back through the cursors this list
 * has seen (a stack kept here, so several lists on one page page on their own). Returns `show`, which redraws the
 * first page (after a change). The focus stays on the pager's button, so a keyboard user can page on.
 * While a page loads the pager's buttons are disabled (a double click must not skip a page, a late answer must not
 * draw over a newer one); the stack changes only once the page arrived; a page that cannot be read leaves the last
 * one and its pager in place, with the problem above them and the focus on it.
 */
export function cursorList(slot, load, render, label) {
  let earlier = []; // the cursors of the pages before the one shown (null: the first page)
  let current = null;
  let loading = 0; // the number of the latest load: an answer of an older one is dropped
  const error = h('div', {});
  const content = h('div', {});
  slot.replaceChildren(error, content);
  async function show(after, stack, focus) {
    const mine = ++loading;
    const nav = content.querySelector('nav.pager');
    content.setAttribute('aria-busy', 'true');
    for (const b of nav ? nav.querySelectorAll('button') : []) b.disabled = true;
    let page;
    try { page = await load(after); }
    catch (failure) {
      if (mine !== loading) return;
      content.removeAttribute('aria-busy');
      for (const b of nav ? nav.querySelectorAll('button') : []) b.disabled = false;
      const alert = problem(failure);
      alert.tabIndex = -1;
      error.replaceChildren(alert);
      if (focus && slot.isConnected) alert.focus(); // a pager click: the keyboard user hears and stays near the problem
      return;
    }
    if (mine !== loading) return;
    content.removeAttribute('aria-busy');
    error.replaceChildren();
    earlier = stack;
    current = after;
    const previous = earlier.length > 0
      ? button('Previous page', () => show(earlier[earlier.length - 1], earlier.slice(0, -1), 'Previous page')) : null;
    const next = page.next
      ? button('Next page', () => show(page.next, [...earlier, current], 'Next page')) : null;
    const pager = previous || next
      ? h('nav', { class: 'toolbar pager', 'aria-label': label }, previous,
        h('span', { class: 'muted' }, `Page ${earlier.length + 1}${page.totalIsExact && page.pageSize ? ` of ${Math.max(1, Math.ceil(page.total / page.pageSize))}` : ''}`), next)
      : null;
    content.replaceChildren(...[render(page)].flat(), pager || '');
    if (focus && pager) {
      const again = [...pager.querySelectorAll('button')];
      (again.find(b => b.textContent === focus) || again[0]).focus();
    }
  }
  return { show: () => show(null, []) };
}
