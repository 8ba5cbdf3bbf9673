// Operations (#/operations): dead letters by failure (preview, replay, discard), bulk re-drive with its dry run and
// progress, the operators' audit trail, projections with their lag and a rebuild. All through the admin API.
import { api, apiPage } from '../api.js';
import { h, setTitle, problem, table, field, button, confirm, time, loading, toUtc, serviceNames, serviceSelect, cursorList, pageSizeOf, shortId } from '../ui.js';
import { styles } from './jobs.js';

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

let lettersPage = 50; // the hash's pageSize, or the default

export async function render(main, params, query) {
  setTitle('Operations');
  lettersPage = pageSizeOf(query, LETTERS_PAGE);
  styles();
  main.append(h('h1', null, 'Operations'));
  const sections = {
    deadLetters: h('section', { 'aria-labelledby': 'dl-title' }, h('h2', { id: 'dl-title' }, 'Dead letters'), loading()),
    redrive: h('section', { 'aria-labelledby': 'rd-title' }, h('h2', { id: 'rd-title' }, 'Re-drive failed or expired jobs')),
    operations: h('section', { 'aria-labelledby': 'op-title' }, h('h2', { id: 'op-title' }, 'Operator actions'), loading()),
    projections: h('section', { 'aria-labelledby': 'pr-title' }, h('h2', { id: 'pr-title' }, 'Projections'), loading()),
  };
  main.append(sections.deadLetters, sections.redrive, sections.operations, sections.projections);
  const trail = operationsList(sections.operations, pageSizeOf(query, OPERATIONS_PAGE));
  const refreshOperations = () => trail.show();
  redrive(sections.redrive, refreshOperations);
  await Promise.all([
    deadLetters(sections.deadLetters, refreshOperations).catch(error => sections.deadLetters.append(problem(error))),
    refreshOperations().catch(error => sections.operations.append(problem(error))),
    projections(sections.projections, refreshOperations).catch(error => sections.projections.append(problem(error))),
  ]);
}

/** Replaces everything after a section's heading. */
function afterHeading(section, ...nodes) { section.replaceChildren(section.firstElementChild, ...nodes.filter(n => n)); }

// Dead letters

/** The groups; `result` (what the last action did) stays in place when they are read again after it. */
async function deadLetters(section, changed, result = h('div', { 'aria-live': 'polite' })) {
  const groups = await api('GET', '/admin/dead-letters/groups');
  const letters = h('div');
  const reload = async () => { await deadLetters(section, changed, result); await changed(); };
  const selection = g => ({ exceptionType: g.exceptionType, failure: g.failure, messageType: g.messageType });
  afterHeading(section,
    h('p', { class: 'muted' }, groups.length ? 'Messages that kept failing, grouped by failure, largest group first.' : 'No dead letters.'),
    groups.length ? table([
      { title: 'Failure', cell: g => [h('strong', null, g.exceptionType), h('div', null, g.failure)] },
      { title: 'Message', cell: g => g.messageType },
      { title: 'Count', cell: g => String(g.count), class: 'num' },
      { title: 'Sent', cell: g => [time(g.firstSentAt), ' – ', time(g.lastSentAt)] },
      { title: 'Actions', cell: g => h('div', { class: 'toolbar' },
        button('Preview replay', () => act(result, 'replay', selection(g), true, reload)),
        button('Replay', () => act(result, 'replay', selection(g), false, reload), { kind: 'primary' }),
        button('Discard', () => act(result, 'discard', selection(g), false, reload), { kind: 'danger' }),
        button('Show letters', () => list(letters, g, result, reload))) },
    ], groups, 'Dead letters by failure') : null,
    result, letters);
}

/** A replay or discard, by filter or ids; a dry run shows what it would touch, the real one asks first. */
async function act(result, kind, selection, dryRun, reload) {
  if (!dryRun) {
    const preview = await api('POST', `/admin/dead-letters/${kind}`, { ...selection, dryRun: true }).catch(() => null);
    const count = preview ? (kind === 'replay' ? preview.replayed : preview.discarded) : 'the selected';
    if (!confirm(`${kind === 'replay' ? 'Replay' : 'Discard for good'} ${count} dead letter(s)?`)) return;
  }
  try {
    const answer = await api('POST', `/admin/dead-letters/${kind}`, { ...selection, dryRun });
    const verb = kind === 'replay' ? 'replayed' : 'discarded';
    const matches = plural(answer.matched, 'dead letter matches', 'dead letters match');
    const box = h('div', { class: 'result', 'data-kind': `${kind}${dryRun ? '-preview' : ''}` });
    result.replaceChildren(box);
    if (answer.operationId && !dryRun && !selection.ids) {
      // By a filter the API answers 202 at once and works through every match as an operation: follow it, then
      // read the groups again once it is done. (By ids it is done when it answers; its operationId is only the record.)
      box.append(h('p', null, h('strong', null, `${matches}; being ${verb} as an operation`)));
      const progress = h('div');
      box.append(progress);
      await follow(progress, answer.operationId, reload, { verb, label: kind === 'replay' ? 'Replay progress' : 'Discard progress' });
      return;
    }
    const done = kind === 'replay' ? answer.replayed : answer.discarded;
    box.append(
      h('p', null, h('strong', null, `${matches}; ${done} ${dryRun ? `would be ${verb}` : verb}`),
        dryRun && answer.remaining ? ` (counted over the first ${answer.matched - answer.remaining}; ${answer.remaining} more match)` : ''),
      // Dead letters' ids, whole (see the letters' table).
      answer.skipped && answer.skipped.length ? h('ul', null, answer.skipped.map(s => h('li', null, h('code', { class: 'id' }, s.id), ': ', s.reason))) : '',
      answer.sampleIds && answer.sampleIds.length ? h('p', { class: 'muted' }, 'For example: ', answer.sampleIds.map(id => [h('code', { class: 'id' }, id), ' '])) : '');
    if (!dryRun) await reload();
  } catch (error) { result.replaceChildren(problem(error)); }
}

/** A group's letters, a page at a time by cursor, with a checkbox each: replay or discard the ones picked. */
function list(container, group, result, reload) {
  const query = after => {
    const query = new URLSearchParams({ exceptionType: group.exceptionType, failure: group.failure, messageType: group.messageType, pageSize: String(lettersPage) });
    if (after) query.set('after', after);
    return query;
  };
  return cursorList(container, after => apiPage(`/admin/dead-letters?${query(after)}`), page => {
    const picked = new Set();
    return [
      h('h3', null, `${group.exceptionType} (${plural(page.total, 'letter', 'letters')})`),
      table([
        { title: 'Pick', cell: l => h('input', { type: 'checkbox', 'aria-label': `Pick ${l.id}`, onchange: e => e.target.checked ? picked.add(l.id) : picked.delete(l.id) }) },
        // Whole: a letter's id is Wolverine's, sequential, and its runs differ only in the middle (no eight digits tell them apart).
        { title: 'Id', cell: l => h('code', { class: 'id' }, l.id) },
        { title: 'Job', cell: l => l.jobId ? h('a', { href: `#/jobs/${l.jobId}` }, h('code', null, shortId(l.jobId))) : '' },
        { title: 'Adapter', cell: l => l.adapter || '' },
        { title: 'Exception', cell: l => l.exceptionMessage },
        { title: 'Sent', cell: l => time(l.sentAt) },
      ], page.items, 'Dead letters of this failure'),
      h('div', { class: 'toolbar' },
        button('Replay picked', () => picked.size && act(result, 'replay', { ids: [...picked] }, false, reload), { kind: 'primary' }),
        button('Discard picked', () => picked.size && act(result, 'discard', { ids: [...picked] }, false, reload), { kind: 'danger' }))];
  }, 'Pages of dead letters').show();
}

// Re-drive

const LETTERS_PAGE = 50;
const OPERATIONS_PAGE = 20;

function redrive(section, changed) {
  const inputs = {
    adapter: h('input', { name: 'adapter', placeholder: 'email-main', autocomplete: 'off' }),
    service: serviceSelect('service', '', serviceNames()),
    state: h('select', { name: 'state' }, h('option', { value: '' }, 'Failed and Expired'), h('option', { value: 'Failed' }, 'Failed'), h('option', { value: 'Expired' }, 'Expired')),
    from: h('input', { name: 'from', type: 'datetime-local' }),
    to: h('input', { name: 'to', type: 'datetime-local' }),
  };
  const result = h('div', { 'aria-live': 'polite', id: 'redrive-result' });
  let previewed = null; // the filter the dry run counted: Run sends exactly that one
  const filter = () => {
    const body = {};
    if (inputs.adapter.value.trim()) body.adapter = inputs.adapter.value.trim();
    if (inputs.service.value) body.service = inputs.service.value;
    if (inputs.state.value) body.state = inputs.state.value;
    if (inputs.from.value) body.from = toUtc(inputs.from.value);
    if (inputs.to.value) body.to = toUtc(inputs.to.value);
    return body;
  };
  const run = button('Run', async () => {
    if (!previewed || !confirm(`Re-drive ${plural(previewed.matched, 'job', 'jobs')} as a new attempt each?`)) return;
    run.disabled = true;
    try {
      const answer = await api('POST', '/admin/jobs/redrive', { ...previewed.filter, dryRun: false });
      await follow(result, answer.operationId, changed, { verb: 're-driven', label: 'Re-drive progress', id: 'operation-progress' });
    } catch (error) { result.replaceChildren(problem(error)); }
    previewed = null;
  }, { kind: 'primary' });
  run.disabled = true;
  const form = h('form', { class: 'filters', 'aria-label': 'Re-drive filter', onsubmit: async event => {
    event.preventDefault();
    run.disabled = true;
    const body = filter();
    try {
      const answer = await api('POST', '/admin/jobs/redrive', { ...body, dryRun: true });
      previewed = { filter: body, matched: answer.matched };
      result.replaceChildren(h('div', { class: 'result', id: 'redrive-count' },
        h('strong', null, `${plural(answer.matched, 'job', 'jobs')} would be re-driven`),
        answer.sampleIds.length ? h('p', { class: 'muted' }, 'For example: ', answer.sampleIds.map(id => [h('a', { href: `#/jobs/${id}` }, h('code', null, shortId(id))), ' '])) : null));
      run.disabled = answer.matched === 0;
    } catch (error) { previewed = null; result.replaceChildren(problem(error)); }
  } },
  h('div', { class: 'fields' },
    field('Adapter', inputs.adapter, 'Its name; empty: every adapter'),
    field('Service', inputs.service, 'Any: every service'),
    field('State', inputs.state),
    field('Ended from', inputs.from, 'Your time zone'),
    field('Ended before', inputs.to, 'Your time zone; empty: now')),
  h('div', { class: 'toolbar' }, button('Dry run', null, { type: 'submit' }), run));
  // A changed filter needs a new dry run before Run.
  form.addEventListener('input', () => { previewed = null; run.disabled = true; });
  section.append(h('p', { class: 'muted' }, 'First a dry run counts the jobs the filter selects; Run then re-drives exactly that filter.'), form, result);
}

/**
 * Polls GET /admin/operations/{id} every second until it is done, with a progress bar ("n of m <verb>"), then calls
 * `changed`. Stops as soon as the container left the page (the reader went elsewhere).
 */
async function follow(container, id, changed, { verb, label, id: textId }) {
  const bar = h('progress', { max: 1, value: 0, 'aria-label': label });
  const text = h('p', { 'aria-live': 'polite', id: textId, class: 'operation-progress' });
  container.replaceChildren(h('div', { class: 'result' }, h('p', null, 'Operation ', h('code', null, id)), bar, text));
  for (;;) {
    const op = await api('GET', `/admin/operations/${id}`);
    if (!container.isConnected) return;
    bar.max = Math.max(op.total, 1);
    bar.value = Math.min(op.done + op.failed, bar.max);
    text.textContent = `${op.done} of ${op.total} ${verb}${op.failed ? `, ${op.failed} failed` : ''} — ${op.status === 'Done' ? `done${op.outcome ? ` (${op.outcome})` : ''}` : 'running'}`;
    if (op.status === 'Done') break;
    await sleep(1000);
    if (!container.isConnected) return;
  }
  await changed();
}

// The audit trail

/** The operator actions, newest first, a page at a time by cursor; `show()` reads the first page again. */
function operationsList(section, size) {
  const slot = h('div');
  afterHeading(section, slot);
  return cursorList(slot,
    after => apiPage(`/admin/operations?pageSize=${size}${after ? `&after=${encodeURIComponent(after)}` : ''}`),
    page => table([
      { title: 'What', cell: o => o.kind },
      { title: 'Who', cell: o => o.by },
      { title: 'When', cell: o => time(o.startedAt) },
      { title: 'Selection', cell: o => h('code', null, JSON.stringify(o.selection)) },
      { title: 'Progress', cell: o => `${o.done} of ${o.total}${o.failed ? `, ${o.failed} failed` : ''}` },
      { title: 'Outcome', cell: o => o.status === 'Done' ? (o.outcome || 'done') : 'running' },
    ], page.items, 'Latest operator actions, newest first'),
    'Pages of operator actions');
}

// Projections

async function projections(section, changed) {
  const status = await api('GET', '/admin/projections');
  const result = h('div', { 'aria-live': 'polite' });
  const rebuild = button('Rebuild', async () => {
    if (!confirm('Rebuild the projections from the event store? Run it in a quiet moment: writes during the rebuild may be overwritten.')) return;
    rebuild.disabled = true;
    result.replaceChildren(h('p', null, 'Rebuilding…'));
    let running = true;
    const request = api('POST', '/admin/projections/rebuild').finally(() => { running = false; });
    // The rebuild answers when it is done; meanwhile its shards' progress shows here.
    (async () => {
      while (running && section.isConnected) {
        await sleep(1000);
        if (!running) break;
        const now = await api('GET', '/admin/projections').catch(() => null);
        if (now && running) afterHeading(section, summary(now), h('div', { class: 'toolbar' }, rebuild), result);
      }
    })();
    try {
      const answer = await request;
      await projections(section, changed);
      section.append(h('p', { class: 'result' }, `Rebuilt ${answer.projections.join(', ')} in ${answer.seconds.toFixed(1)} s.`));
      await changed();
    } catch (error) { result.replaceChildren(problem(error)); rebuild.disabled = false; }
  }, { kind: 'danger' });
  rebuild.disabled = status.rebuilding;
  afterHeading(section, summary(status), h('div', { class: 'toolbar' }, rebuild, status.rebuilding ? h('span', { class: 'muted' }, 'A rebuild is running.') : null), result);
}

function summary(status) {
  return h('div', null,
    h('p', null, `Event store high-water mark ${status.highWaterMark}${status.rebuilding ? '; a rebuild is running' : ''}.`),
    table([
      { title: 'Projection', cell: p => p.name },
      { title: 'Sequence', cell: p => String(p.sequence), class: 'num' },
      { title: 'Lag', cell: p => String(p.lag), class: 'num' },
      { title: 'Progress', cell: p => h('progress', { max: Math.max(status.highWaterMark, 1), value: Math.min(p.sequence, status.highWaterMark), 'aria-label': `${p.name} progress` }) },
    ], status.projections, 'Asynchronous projections and subscriptions'));
}
