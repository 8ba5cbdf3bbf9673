import { api } from '../api.js';
import { h, setTitle, table, time, go, problem, STATES } from '../ui.js';

const WINDOWS = { hour: { label: 'Last hour', ms: 3600e3 }, day: { label: 'Last day', ms: 86400e3 } };

/**
 * The overview: jobs per adapter and state in the last hour or day (a bar chart and the same numbers as a table),
 * the adapters that need attention, and the newest failures.
 */
export async function render(main, params, query) {
  const windowName = WINDOWS[query.get('window')] ? query.get('window') : 'hour';
  const since = new Date(Date.now() - WINDOWS[windowName].ms);
  setTitle('Overview');
  main.append(h('h1', null, 'Overview'));

  const toggle = h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Time window' },
    Object.entries(WINDOWS).map(([name, w]) => h('button', {
      type: 'button', class: name === windowName ? 'button primary' : 'button', 'aria-pressed': String(name === windowName),
      onclick: () => go(name === 'hour' ? '#/' : `#/?window=${name}`),
    }, w.label)),
    h('span', { class: 'muted' }, 'Jobs created since ', time(since.toISOString())));
  main.append(toggle);

  // Three independent reads: one failing does not hide the others.
  const [counts, adapters, failures] = await Promise.allSettled([
    api('GET', `/admin/jobs/counts?from=${encodeURIComponent(since.toISOString())}`),
    api('GET', '/admin/adapters'),
    api('GET', '/admin/jobs?state=Failed&pageSize=10'),
  ]);

  main.append(h('h2', { id: 'jobs-heading' }, `Jobs by adapter and state (${WINDOWS[windowName].label.toLowerCase()})`));
  if (counts.status === 'rejected') main.append(problem(counts.reason));
  else main.append(...jobCounts(counts.value, WINDOWS[windowName].label.toLowerCase()));

  main.append(h('h2', null, 'Adapters needing attention'));
  if (adapters.status === 'rejected') main.append(problem(adapters.reason));
  else main.append(attention(adapters.value, counts.status === 'fulfilled' ? counts.value : [], WINDOWS[windowName].label.toLowerCase()));

  main.append(h('h2', null, 'Recent failures'));
  if (failures.status === 'rejected') main.append(problem(failures.reason));
  else main.append(recentFailures(failures.value.items));
}

/** rows: [{adapter, byState: {state: n}, total}] from the API's [{adapter, state, count}] */
function byAdapter(counts) {
  const rows = new Map();
  for (const c of counts) {
    const row = rows.get(c.adapter) || { adapter: c.adapter, byState: {}, total: 0 };
    row.byState[c.state] = (row.byState[c.state] || 0) + c.count;
    row.total += c.count;
    rows.set(c.adapter, row);
  }
  return [...rows.values()].sort((a, b) => a.adapter.localeCompare(b.adapter));
}

function jobCounts(counts, windowLabel) {
  const rows = byAdapter(counts);
  if (rows.length === 0) return [h('p', { class: 'muted' }, `No jobs were created in the ${windowLabel}.`)];
  const states = STATES.filter(s => rows.some(r => r.byState[s]));
  const max = Math.max(...rows.map(r => r.total));
  // The chart repeats the table below for the eye; screen readers get the table.
  const chart = h('div', { class: 'chart', 'aria-hidden': 'true' },
    h('div', { class: 'legend' }, states.map(s => h('span', null, h('i', { class: `state-${s}` }), s))),
    rows.map(r => h('div', { class: 'bar-row' },
      h('span', { class: 'bar-label' }, r.adapter),
      h('span', { class: 'bar' }, states.filter(s => r.byState[s]).map(s => {
        const part = h('span', { class: `state-${s}`, title: `${s}: ${r.byState[s]}` });
        part.style.width = `${(100 * r.byState[s]) / max}%`; // CSSOM, which the CSP allows (a style attribute it would not)
        return part;
      })),
      h('span', { class: 'num' }, String(r.total)))));
  const columns = [
    { title: 'Adapter', cell: r => r.adapter },
    ...states.map(s => ({ title: s, class: 'num', cell: r => String(r.byState[s] || 0) })),
    { title: 'Total', class: 'num', cell: r => String(r.total) },
  ];
  return [chart, table(columns, rows, `Jobs created in the ${windowLabel}, per adapter and state`)];
}

const PROBLEMS = { blocked: 'blocked', 'no live worker': 'no live worker', 'backlog growing': 'backlog growing' };

function attention(adapters, counts, windowLabel) {
  const failed = new Map();
  for (const c of counts) if (c.state === 'Failed') failed.set(c.adapter, (failed.get(c.adapter) || 0) + c.count);
  const rows = adapters.map(a => {
    const reasons = [];
    const live = a.live && a.live.status;
    if (a.status === 'Blocked' || live === 'blocked') reasons.push('blocked');
    else if (PROBLEMS[live]) reasons.push(PROBLEMS[live]);
    if (failed.get(a.name)) reasons.push(`failing: ${failed.get(a.name)} failed in the ${windowLabel}`);
    return { adapter: a, reasons };
  }).filter(r => r.reasons.length > 0);
  if (rows.length === 0) return h('p', null, `All ${adapters.length} adapters are fine: none blocked, without a live worker, with a growing backlog or with failed jobs in the ${windowLabel}.`);
  return table([
    { title: 'Adapter', cell: r => h('a', { href: `#/adapters/${encodeURIComponent(r.adapter.id)}` }, r.adapter.name) },
    { title: 'Type', cell: r => r.adapter.type },
    { title: 'Why', cell: r => h('span', null, r.reasons.map(reason => h('span', { class: 'badge bad' }, reason)).flatMap((b, i) => i ? [' ', b] : [b])) },
    { title: 'Live workers', class: 'num', cell: r => String(r.adapter.live && r.adapter.live.workers ? r.adapter.live.workers.length : 0) },
    { title: 'Queue depth', class: 'num', cell: r => r.adapter.live && r.adapter.live.queueDepth != null ? String(r.adapter.live.queueDepth) : '—' },
  ], rows, 'Adapters needing attention');
}

function recentFailures(items) {
  if (items.length === 0) return h('p', null, 'No failed jobs.');
  return table([
    { title: 'Job', cell: j => h('a', { href: `#/jobs/${encodeURIComponent(j.job.id)}` }, j.job.id) },
    { title: 'Adapter', cell: j => j.job.adapter },
    { title: 'Failed', cell: j => time(j.job.finishedAt) },
    { title: 'Error', cell: j => j.job.lastError || '—' },
  ], items, 'The newest failed jobs (up to 10)');
}
