// Jobs: the search (#/jobs), one job with its event stream as a timeline (#/jobs/:id), an offer's jobs (#/offers/:id).
// Every call is an admin API call (GET /admin/jobs, /admin/jobs/{id}, /admin/jobs/{id}/events, POST .../retry).
import { api } from '../api.js';
import { h, setTitle, go, problem, table, field, button, confirm, time, loading, STATES, toUtc, serviceNames, serviceName, serviceSelect, shortId } from '../ui.js';

const PAGE_SIZE = 25;
// The search's filters as they stand in the hash and in the API's query (the same names, so a search is a bookmark).
const FILTERS = ['state', 'adapter', 'service', 'offerId', 'from', 'to'];

/** The styles of the timeline and state badges, loaded once (the CSP allows only the console's own style sheets). */
export function styles() {
  if (document.getElementById('jobs-css')) return;
  document.head.append(h('link', { id: 'jobs-css', rel: 'stylesheet', href: '/console/pages/jobs.css' }));
}

export function stateBadge(state) {
  const kind = { Finished: 'ok', Failed: 'bad', Expired: 'bad', Canceled: 'warn', Started: 'warn' }[state];
  return h('span', { class: kind ? `badge ${kind}` : 'badge', 'data-state': state }, state);
}

/** UTC ISO from the API or the hash -> a datetime-local value in the reader's zone (toUtc, in ui.js, goes back). */
function toLocal(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return '';
  const pad = n => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function serviceLink(id, names) {
  return h('a', { href: `#/services/${id}` }, names.get(id) || shortId(id));
}

/** #/jobs: the search form, its results and the next page by cursor; the filters live in the hash. */
export async function search(main, params, query) {
  setTitle('Jobs');
  styles();
  main.append(h('h1', null, 'Jobs'));

  const names = serviceNames();
  const metadataKey = [...query.keys()].find(k => k.startsWith('metadata.'));
  const inputs = {
    state: h('select', { name: 'state' }, h('option', { value: '' }, 'Any'),
      STATES.map(s => h('option', { value: s, selected: query.get('state') === s }, s))),
    adapter: h('input', { name: 'adapter', value: query.get('adapter') || '', placeholder: 'email-main', autocomplete: 'off' }),
    service: serviceSelect('service', query.get('service') || '', names),
    offerId: h('input', { name: 'offerId', value: query.get('offerId') || '', placeholder: 'offer id', autocomplete: 'off' }),
    from: h('input', { name: 'from', type: 'datetime-local', value: toLocal(query.get('from')) }),
    to: h('input', { name: 'to', type: 'datetime-local', value: toLocal(query.get('to')) }),
    metaKey: h('input', { name: 'metadataKey', value: metadataKey ? metadataKey.slice('metadata.'.length) : '', placeholder: 'customer', autocomplete: 'off' }),
    metaValue: h('input', { name: 'metadataValue', value: metadataKey ? query.get(metadataKey) : '', placeholder: 'acme', autocomplete: 'off' }),
  };
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const form = h('form', { class: 'search', 'aria-label': 'Search jobs', onsubmit: event => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ['state', 'adapter', 'service', 'offerId']) if (inputs[name].value.trim()) next.set(name, inputs[name].value.trim());
    if (inputs.from.value) next.set('from', toUtc(inputs.from.value));
    if (inputs.to.value) next.set('to', toUtc(inputs.to.value));
    if (inputs.metaKey.value.trim()) next.set(`metadata.${inputs.metaKey.value.trim()}`, inputs.metaValue.value);
    go(`#/jobs?${next}`);
  } },
  h('div', { class: 'fields' },
    field('State', inputs.state),
    field('Adapter', inputs.adapter, 'Its name'),
    field('Service', inputs.service),
    field('Offer', inputs.offerId, 'Its id'),
    field('Created from', inputs.from, `Your time zone (${zone}), inclusive`),
    field('Created before', inputs.to, `Your time zone (${zone})`),
    field('Metadata key', inputs.metaKey),
    field('Metadata value', inputs.metaValue, 'The offer\'s metadata must hold this pair')),
  h('div', { class: 'toolbar' }, button('Search', null, { kind: 'primary', type: 'submit' }), h('a', { href: '#/jobs' }, 'Clear')));
  main.append(form);

  // The API query: the hash's filters as they are, plus the page size and the cursor.
  const apiQuery = new URLSearchParams();
  for (const [name, value] of query) if (FILTERS.includes(name) || name.startsWith('metadata.') || name === 'after') apiQuery.set(name, value);
  apiQuery.set('pageSize', String(PAGE_SIZE));
  const results = h('section', { 'aria-label': 'Results', 'aria-live': 'polite' }, loading());
  main.append(results);
  let page;
  try { page = await api('GET', `/admin/jobs?${apiQuery}`); }
  catch (error) { results.replaceChildren(problem(error)); return; }
  const serviceName = await names;

  const count = page.totalIsExact ? `${page.total} ${page.total === 1 ? 'job matches' : 'jobs match'}` : `More than ${page.total} jobs match`;
  results.replaceChildren(
    h('p', { class: 'muted', id: 'jobs-count' }, count, query.has('after') ? ' (a later page)' : ''),
    table([
      { title: 'Job', cell: j => h('a', { href: `#/jobs/${j.job.id}`, title: j.job.id }, h('code', null, shortId(j.job.id))) },
      { title: 'State', cell: j => stateBadge(j.job.state) },
      { title: 'Adapter', cell: j => h('a', { href: `#/adapters/${j.adapterId}` }, j.job.adapter) },
      { title: 'Service', cell: j => serviceLink(j.serviceId, serviceName) },
      { title: 'Offer', cell: j => h('a', { href: `#/offers/${j.job.offerId}`, title: j.job.offerId }, h('code', null, shortId(j.job.offerId))) },
      { title: 'Created', cell: j => time(j.job.createdAt) },
      { title: 'Finished', cell: j => time(j.job.finishedAt) },
    ], page.items, 'Jobs, newest first'),
    h('div', { class: 'toolbar' },
      query.has('after') ? h('a', { href: `#/jobs?${withQuery(query, 'after', null)}` }, 'First page') : null,
      page.next ? button('Next page', () => go(`#/jobs?${withQuery(query, 'after', page.next)}`)) : null));
}

function withQuery(query, name, value) {
  const next = new URLSearchParams(query);
  if (value === null) next.delete(name); else next.set(name, value);
  return next;
}

/** What one event means, in words: a title and details (nodes or text). Unknown types are shown generically. */
function describe(event) {
  const d = event.data || {};
  const job = id => h('a', { href: `#/jobs/${id}` }, h('code', null, shortId(id)));
  const detail = text => text ? h('pre', { class: 'detail' }, text) : null;
  switch (event.type) {
    case 'JobScheduled': return ['Scheduled', ['To be sent at ', time(d.sendAt), ' on ', d.adapterName, d.expireAt ? [', expires ', time(d.expireAt)] : null]];
    case 'JobQueued': return ['Queued', ['On adapter ', d.adapterName, d.expireAt ? [', expires ', time(d.expireAt)] : null]];
    case 'JobStarted': return ['Started', [`Attempt ${d.attempt} by worker `, h('code', null, d.worker)]];
    case 'JobAttemptFailed': return ['Attempt failed', [`Attempt ${d.attempt}: ${d.error}; next attempt at `, time(d.retryAt), detail(d.detail)], 'bad'];
    case 'JobPossibleDuplicate': return ['Possible duplicate', [`Attempt ${d.attempt} was delivered again after it had started and never ended: the recipient may get it twice.`], 'warn'];
    case 'JobFinished': return ['Finished', [`Delivered by attempt ${d.attempt}`, d.providerMessageId ? ['; provider message id ', h('code', null, d.providerMessageId)] : null], 'ok'];
    case 'JobFailed': return ['Failed', [`Attempt ${d.attempt}: ${d.error}`, detail(d.detail)], 'bad'];
    case 'JobExpired': return ['Expired', ['Its expiry passed before it started; it was not sent.'], 'bad'];
    case 'JobCancellationRequested': return ['Cancellation requested', [`By ${d.requestedBy}`], 'warn'];
    case 'JobCanceled': return ['Canceled', [d.possiblyDelivered ? 'The send was aborted after the provider may have received it: the recipient may have it.' : 'It will not be sent.'], 'warn'];
    case 'JobParamsUpdated': return ['Params changed', ['Before it started']];
    case 'JobExpiryChanged': return ['Expiry changed', d.expireAt ? ['Now expires ', time(d.expireAt)] : ['Now without expiry']];
    case 'JobRescheduled': return ['Rescheduled', ['To be sent at ', time(d.sendAt)]];
    case 'JobRetryRequested': return ['Retry requested', [`By ${d.requestedBy}: a new attempt follows`, d.generation != null ? ` (generation ${d.generation})` : '']];
    case 'JobRequeued': return ['Queued again', [`${d.reason} (generation ${d.generation})`], 'warn'];
    case 'JobParamsErased': return ['Params erased', [`Reason: ${d.reason}, by ${d.by}`]];
    case 'JobFellBack': return ['Fell back', [`Reason: ${d.reason}; step ${d.step} of the chain is job `, job(d.nextJobId)], 'warn'];
    case 'JobFallbackStarted': return ['Fallback step', [`Step ${d.step} of a fallback chain, after job `, job(d.previousJobId), ` (${d.reason})`]];
    case 'JobRoutedToFailover': return ['Routed to failover', [`Meant for ${d.fromAdapter}, sent on ${d.toAdapter}: ${d.reason}`], 'warn'];
    default: return [event.type, [h('pre', { class: 'detail' }, JSON.stringify(d, null, 2))]];
  }
}

export function timeline(events) {
  return h('ol', { class: 'timeline', 'aria-label': 'Event stream' }, events.map(event => {
    const [title, details, kind] = describe(event);
    return h('li', { class: kind ? `event ${kind}` : 'event', 'data-type': event.type },
      h('div', { class: 'when' }, time(event.timestamp)),
      h('div', { class: 'what' }, h('strong', null, title), ' ', h('span', { class: 'muted' }, `#${event.version}`), h('div', null, details)));
  }));
}

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([name, value]) => [h('dt', null, name), h('dd', null, value)]));
}

/** #/jobs/:id: the job, its timeline and, for a failed job, Retry. */
export async function detail(main, params) {
  setTitle(`Job ${shortId(params.id)}`);
  styles();
  main.append(h('h1', null, 'Job ', h('code', null, params.id)));
  const body = h('div', null, loading());
  main.append(body);
  await show(body, params.id);
}

async function show(body, id, note) {
  const [view, events] = await Promise.all([api('GET', `/admin/jobs/${encodeURIComponent(id)}`), api('GET', `/admin/jobs/${encodeURIComponent(id)}/events`)]);
  const names = await serviceName(view.serviceId); // the one service shown, not every service
  const job = view.job;
  const actions = h('div', { class: 'toolbar' });
  const status = h('div', { 'aria-live': 'polite' }, note || null);
  if (job.state === 'Failed') actions.append(button('Retry', () => retry(body, id, status), { kind: 'primary' }));
  if (job.state === 'Expired')
    actions.append(h('span', { class: 'muted' }, 'An expired job is re-driven with the bulk re-drive: '),
      h('a', { href: '#/operations' }, 'Operations'));
  body.replaceChildren(
    facts([
      ['State', stateBadge(job.state)],
      ['Adapter', h('a', { href: `#/adapters/${view.adapterId}` }, job.adapter)],
      ['Service', serviceLink(view.serviceId, names)],
      ['Offer', h('a', { href: `#/offers/${job.offerId}` }, h('code', null, job.offerId))],
      ['Created', time(job.createdAt)],
      ['Send at', job.sendAt ? time(job.sendAt) : null],
      ['Expires', job.expireAt ? time(job.expireAt) : null],
      ['Started', job.startedAt ? time(job.startedAt) : null],
      ['Finished', job.finishedAt ? time(job.finishedAt) : null],
      ['Attempts', String(job.attempts)],
      ['Retries', job.retries ? String(job.retries) : null],
      ['Last error', job.lastError ? `${job.lastError} (attempt ${job.lastErrorAttempt})` : null],
      ['Provider said', view.lastErrorDetail ? h('pre', { class: 'detail' }, view.lastErrorDetail) : null],
      ['Possible duplicates', job.possibleDuplicates ? String(job.possibleDuplicates) : null],
      ['Cancellation requested', job.cancellationRequested ? 'yes' : null],
      ['Possibly delivered', job.possiblyDelivered ? 'yes: the send was aborted after the provider may have received it' : null],
    ]),
    actions, status,
    h('h2', null, 'Timeline'),
    timeline(events),
    h('details', null, h('summary', null, 'Params'), h('pre', null, JSON.stringify(job.params, null, 2))));
  return job;
}

/** How long the job page follows a retried job before it says it stopped. */
const FOLLOW_MS = 30000;

/** POST /admin/jobs/{id}/retry, then the page again until the new attempt has ended (or FOLLOW_MS have passed). */
async function retry(body, id, status) {
  if (!confirm('Retry this job as a new attempt?')) return;
  try { await api('POST', `/admin/jobs/${encodeURIComponent(id)}/retry`); }
  catch (error) { status.replaceChildren(problem(error)); return; }
  const note = () => h('p', { class: 'muted retry-note' }, 'Retry requested: the new attempt shows below as it runs.');
  const until = Date.now() + FOLLOW_MS;
  const at = location.hash;
  const ended = job => ['Finished', 'Failed', 'Expired', 'Canceled'].includes(job.state);
  try {
    let job = await show(body, id, note());
    while (!ended(job) && Date.now() < until) {
      await new Promise(resolve => setTimeout(resolve, 1000));
      if (location.hash !== at || !body.isConnected) return; // the reader went elsewhere
      job = await show(body, id, note());
    }
    // Given up waiting (no worker takes the adapter's jobs, say): the note must stop promising that the attempt shows.
    if (!ended(job)) body.querySelector('.retry-note')?.replaceChildren(
      `Retry requested, but the job is still ${job.state} after ${FOLLOW_MS / 1000} s, so the page stopped following it. Reload the page to see it now.`);
  } catch (error) {
    // A failed read while following the attempt: say so where the retry was asked, instead of stopping silently.
    // (show() redraws the body, so the status box of the click may be gone: the note goes on top of the body.)
    if (!body.isConnected) return;
    body.prepend(h('div', { class: 'retry-problem' }, h('p', null, 'The retry was requested, but the page could not follow it:'), problem(error)));
  }
}

/** #/offers/:id: the offer's jobs (GET /admin/jobs?offerId=), each linking to its page. */
export async function offer(main, params) {
  setTitle(`Offer ${shortId(params.id)}`);
  styles();
  main.append(h('h1', null, 'Offer ', h('code', null, params.id)));
  const page = await api('GET', `/admin/jobs?offerId=${encodeURIComponent(params.id)}&pageSize=200`);
  if (page.items.length === 0) { main.append(h('p', null, 'No job of any service belongs to this offer.')); return; }
  const first = page.items[0];
  const names = await serviceName(first.serviceId); // the one service shown, not every service
  main.append(
    facts([['Service', serviceLink(first.serviceId, names)], ['Created', time(first.job.createdAt)], ['Jobs', String(page.total)]]),
    table([
      { title: 'Job', cell: j => h('a', { href: `#/jobs/${j.job.id}`, title: j.job.id }, h('code', null, shortId(j.job.id))) },
      { title: 'State', cell: j => stateBadge(j.job.state) },
      { title: 'Adapter', cell: j => j.job.adapter },
      { title: 'Attempts', cell: j => String(j.job.attempts), class: 'num' },
      { title: 'Last error', cell: j => j.job.lastError || '' },
      { title: 'Finished', cell: j => time(j.job.finishedAt) },
    ], page.items, 'The offer\'s jobs'),
    h('p', { class: 'muted', hidden: !page.next }, 'More jobs than shown: ', h('a', { href: `#/jobs?offerId=${encodeURIComponent(params.id)}` }, 'search them')));
}
