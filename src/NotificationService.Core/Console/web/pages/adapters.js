// Adapters (#/adapters, #/adapters/new, #/adapters/:id): the config form is generated from the type's JSON Schema
// (GET /admin/adapter-types); secrets are write-only; an edit sends a merge patch of only what changed.
import { api, apiPage } from '../api.js';
import { h, setTitle, go, table, field, button, confirm, time, cursorList, pageSizeOf } from '../ui.js';
import {
  props, fill, attempt, secretOnce, historyList, badge, failed, schemaForm, schemaControl, jsonControl, mergePatch, FormError,
} from './forms.js';

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const withoutNulls = o => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== null && v !== undefined));

const PAGE_SIZE = 50;

/** Every adapter, a page at a time by name (the API's cursor), grouped by type, with its live status, queue depth and workers. */
export async function list(main, params, query) {
  setTitle('Adapters');
  const rows = h('div', {});
  main.append(h('h1', {}, 'Adapters'), h('p', {}, h('a', { href: '#/adapters/new', class: 'button' }, 'New adapter')), rows);
  const size = pageSizeOf(query, PAGE_SIZE);
  await cursorList(rows,
    after => apiPage(`/admin/adapters?limit=${size}${after ? `&after=${encodeURIComponent(after)}` : ''}`),
    page => page.items.length === 0 ? h('p', {}, 'No adapters yet.') : [...new Set(page.items.map(a => a.type))].sort().map(type => {
      const id = `type-${type}`;
      return h('section', { 'aria-labelledby': id }, h('h2', { id }, type), table([
        { title: 'Name', cell: a => h('a', { href: `#/adapters/${a.id}` }, a.name) },
        { title: 'Status', cell: a => badge(a.live?.status ?? (a.status === 'Blocked' ? 'blocked' : 'ok')) },
        { title: 'Queue depth', cell: a => (a.live?.queueDepth ?? '–').toString() },
        { title: 'Live workers', cell: a => String(a.live?.workers?.length ?? 0) },
        { title: 'Oldest waiting job', cell: a => (a.live?.oldestWaitingSince ? time(a.live.oldestWaitingSince) : 'none') },
        { title: 'Services', cell: a => (a.services.length ? String(a.services.length) : 'all') },
      ], page.items.filter(a => a.type === type), { labelledBy: id }));
    }),
    'Pages of adapters').show();
}

// DeliveryPolicy (README "Admin API"), described as a schema so the same generator draws it.
function policySchema(failoverChoices) {
  return {
    type: 'object',
    properties: {
      maxAttempts: { type: 'integer', minimum: 1, maximum: 100, default: 5, description: 'Attempts before a job fails' },
      initialBackoffSeconds: { type: 'number', exclusiveMinimum: 0, default: 2, description: 'Wait before the first retry; doubles each time, with jitter' },
      maxBackoffSeconds: { type: 'number', default: 300, description: 'Longest wait between attempts' },
      rateLimitPerSecond: { type: 'number', exclusiveMinimum: 0, description: 'Sends per second across all workers; empty: unlimited' },
      defaultTtlSeconds: { type: 'number', exclusiveMinimum: 0, description: 'Expiry of jobs whose offer sets none; empty: never' },
      failoverAdapter: { type: 'string', enum: failoverChoices, description: 'Another adapter of the same type that takes new jobs while this one is blocked or failing' },
      failoverAfterSeconds: { type: 'number', minimum: 1, maximum: 604800, default: 300, description: 'How long jobs must fail transiently before the failover takes new ones' },
    },
  };
}

/** Checkboxes for the services allowed to use the adapter; none checked means every service. */
function servicesControl(services, initial) {
  const boxes = services.map(s => [s.id, props(h('input', { type: 'checkbox', name: 'services', value: s.id }), { checked: initial.includes(s.id) })]);
  const node = h('fieldset', { class: 'services', 'data-path': 'services' }, h('legend', {}, 'Allowed services'),
    h('p', { class: 'hint' }, 'None checked: every service may use the adapter.'),
    services.length === 0 ? h('p', {}, 'No services yet.') : null,
    ...boxes.map(([, box], i) => field(services[i].name, box)));
  return { node, read: () => boxes.filter(([, box]) => box.checked).map(([id]) => id) };
}

// The stored failover stays a choice even if that adapter is gone, so saving another field does not clear it.
function failoverChoices(adapters, type, self, current) {
  const names = adapters.filter(a => a.type === type && a.name !== self).map(a => a.name);
  return current && !names.includes(current) ? [current, ...names] : names;
}

/** A new adapter: choose a type, then a form drawn from its config schema. */
export async function create(main, params, query) {
  setTitle('New adapter');
  main.append(h('h1', {}, 'New adapter'));
  let types, services, adapters;
  try {
    [types, services, adapters] = await Promise.all([
      api('GET', '/admin/adapter-types'), api('GET', '/admin/services'), api('GET', '/admin/adapters')]);
  } catch (error) {
    failed(main, error);
    return;
  }
  const chosen = types.find(t => t.name === query?.get('type')) ?? types[0];
  const typeSelect = h('select', { name: 'type' });
  for (const t of types) typeSelect.append(props(h('option', {}, `${t.name}: ${t.description}`), { value: t.name, selected: t === chosen }));
  const formSlot = h('div', {});
  typeSelect.addEventListener('change', () => draw(types.find(t => t.name === typeSelect.value)));
  main.append(h('form', { 'aria-label': 'Adapter type', onsubmit: event => event.preventDefault() },
    field('Type', typeSelect, 'The form below follows the chosen type\'s config schema.')), formSlot);

  function draw(type) {
    const name = h('input', { type: 'text', name: 'name' });
    const config = schemaForm(type.configSchema, 'config', { name: 'Config', secretFields: type.secretFields });
    const paramsSchema = jsonControl('paramsSchema', 'Params schema', type.paramsSchema,
      'The JSON Schema (draft-07) an offer\'s params must match; prefilled with the type\'s default.', false, 12);
    const policy = schemaControl(policySchema(failoverChoices(adapters, type.name)), 'policy', { name: 'Delivery policy', top: true });
    const allowed = servicesControl(services, []);
    const slot = h('div', {});
    const form = props(h('form', {
      'aria-label': `New ${type.name} adapter`,
      onsubmit: async event => {
        event.preventDefault();
        const created = await attempt(form, slot, () => {
          const schema = paramsSchema.read();
          const body = { name: name.value, type: type.name, config: config.read(), policy: policy.read(), services: allowed.read() };
          // The type's default is what the API uses when none is sent; send only a schema the admin changed.
          if (schema !== undefined && !same(schema, type.paramsSchema)) body.paramsSchema = schema;
          return api('POST', '/admin/adapters', body);
        });
        if (!created) return;
        formSlot.replaceChildren(
          h('p', { role: 'status' }, `Adapter ${created.name} created; its workers read the queue ${created.queue}.`),
          secretOnce(`Worker key of ${created.name}`, created.apiKey, 'the worker key (its workers start with it as Adapter__Key)',
            'The API cannot issue another one: if it is lost, delete the adapter and create it again.'),
          h('p', {}, h('a', { href: `#/adapters/${created.id}` }, `Open ${created.name}`)));
      },
    },
    h('div', { 'data-path': 'name' }, field('Name (required)', name, 'Lower-case letters, digits, ".", "_" or "-"; it names the queue.')),
    config.node, paramsSchema.node, policy.node, allowed.node,
    h('button', { type: 'submit', class: 'button primary' }, 'Create adapter'), slot), { noValidate: true });
    formSlot.replaceChildren(form);
  }
  draw(chosen);
}

/** One adapter: status, live workers, edit (a merge patch of what changed), block/unblock, delete, history. */
export async function detail(main, params) {
  const header = h('div', {});
  const body = h('div', {});
  const notice = h('div', { role: 'status' });
  main.append(header, notice, body);
  const id = encodeURIComponent(params.id);
  const refresh = async () => {
    let adapter, types, services, adapters, history;
    try {
      [adapter, types, services, adapters, history] = await Promise.all([
        api('GET', `/admin/adapters/${id}`), api('GET', '/admin/adapter-types'), api('GET', '/admin/services'),
        api('GET', '/admin/adapters'), api('GET', `/admin/adapters/${id}/history`)]);
    } catch (error) {
      setTitle('Adapter', header);
      header.replaceChildren(h('h1', {}, 'Adapter'));
      body.replaceChildren();
      failed(body, error);
      return;
    }
    const type = types.find(t => t.name === adapter.type);
    setTitle(`Adapter ${adapter.name}`, header);
    header.replaceChildren(h('h1', {}, `Adapter ${adapter.name}`),
      h('p', {}, badge(adapter.live?.status ?? adapter.status), ` ${adapter.type} adapter, queue `, h('code', {}, adapter.queue),
        '. Created ', time(adapter.createdAt), ', changed ', time(adapter.updatedAt), '. ', h('a', { href: '#/adapters' }, 'All adapters')));
    fill(body, actions(adapter, notice, refresh), liveSection(adapter),
      editForm(adapter, type, services, adapters, notice, refresh),
      h('section', { 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h' }, 'History (newest first)'), historyList(history)));
  };
  await refresh();
}

function actions(adapter, notice, refresh) {
  const slot = h('div', {});
  const blocked = adapter.status === 'Blocked';
  const run = async (question, method, path, after) => {
    if (!(await confirm(question))) return;
    try {
      await api(method, path);
    } catch (error) {
      slot.replaceChildren();
      failed(slot, error);
      return;
    }
    await after();
  };
  const toggle = () => run(
    blocked ? `Unblock ${adapter.name}? Its workers take jobs again.`
      : `Block ${adapter.name}? New offers to it are refused and its workers stop taking jobs.`,
    'POST', `/admin/adapters/${adapter.id}/${blocked ? 'unblock' : 'block'}`, async () => {
      notice.textContent = `${adapter.name} is ${blocked ? 'unblocked' : 'blocked'}.`;
      await refresh();
    });
  const remove = () => run(`Delete ${adapter.name}? This cannot be undone; its history stays readable.`,
    'DELETE', `/admin/adapters/${adapter.id}`, async () => go('#/adapters'));
  return h('section', { 'aria-labelledby': 'actions-h' }, h('h2', { id: 'actions-h' }, 'Actions'),
    button(blocked ? 'Unblock adapter' : 'Block adapter', toggle, { kind: blocked ? 'primary' : 'danger' }), ' ',
    button('Delete adapter', remove, { kind: 'danger' }), slot);
}

function liveSection(adapter) {
  const live = adapter.live;
  if (!live) return null;
  return h('section', { 'aria-labelledby': 'live-h' }, h('h2', { id: 'live-h' }, 'Live workers'),
    h('p', {}, 'Queue depth: ', ...(live.queueDepth === null || live.queueDepth === undefined
      ? ['unknown (not sampled yet, or the queue does not exist yet)']
      : [String(live.queueDepth), live.queueDepthAt ? h('span', {}, ' at ', time(live.queueDepthAt)) : null]), '. Oldest waiting job: ',
      live.oldestWaitingSince ? h('span', {}, time(live.oldestWaitingSince), ` (${Math.round(live.oldestWaitingSeconds)} s ago)`) : 'none', '.'),
    live.workers.length === 0 ? h('p', {}, 'No live worker.') : table([
      { title: 'Node', cell: w => w.node },
      { title: 'Host', cell: w => w.host },
      { title: 'Version', cell: w => w.version },
      { title: 'Parallelism', cell: w => String(w.parallelism) },
      { title: 'In flight', cell: w => String(w.inFlight) },
      { title: 'Started', cell: w => time(w.startedAt) },
      { title: 'Last seen', cell: w => time(w.lastSeen) },
    ], live.workers, { labelledBy: 'live-h' }));
}

function editForm(adapter, type, services, adapters, notice, refresh) {
  const config = schemaForm(type?.configSchema, 'config', {
    name: 'Config', initial: adapter.config, secretFields: type?.secretFields ?? [], secretsSet: adapter.secretsSet, editing: true,
  });
  const paramsSchema = jsonControl('paramsSchema', 'Params schema', adapter.paramsSchema, 'The JSON Schema (draft-07) an offer\'s params must match.', true, 12);
  const policy = schemaControl(policySchema(failoverChoices(adapters, adapter.type, adapter.name, adapter.policy?.failoverAdapter)), 'policy',
    { name: 'Delivery policy', top: true, initial: withoutNulls(adapter.policy), editing: true });
  const allowed = servicesControl(services, adapter.services);
  const slot = h('div', {});
  const form = props(h('form', {
    'aria-label': 'Change the adapter',
    onsubmit: async event => {
      event.preventDefault();
      notice.textContent = '';
      const saved = await attempt(form, slot, async () => {
        const patch = {};
        const configPatch = mergePatch(adapter.config, config.read());
        if (Object.keys(configPatch).length) patch.config = configPatch;
        const schema = paramsSchema.read();
        if (schema === undefined) throw new FormError('paramsSchema', 'is required');
        if (!same(schema, adapter.paramsSchema)) patch.paramsSchema = schema;
        const policyPatch = mergePatch(withoutNulls(adapter.policy), policy.read());
        if (Object.keys(policyPatch).length) patch.policy = policyPatch;
        const chosen = allowed.read();
        if (!same([...chosen].sort(), [...adapter.services].sort())) patch.services = chosen;
        if (Object.keys(patch).length === 0) return 'unchanged';
        return api('PATCH', `/admin/adapters/${adapter.id}`, patch);
      });
      if (saved === undefined) return;
      notice.textContent = saved === 'unchanged' ? 'Nothing changed.' : `Saved. Running workers pick up a new config or policy when they restart.`;
      if (saved !== 'unchanged') await refresh();
    },
  }, h('h2', {}, 'Configuration'),
  h('p', { class: 'hint' }, 'Only the fields you change are sent (a merge patch); secrets left empty keep their stored value.'),
  config.node, paramsSchema.node, policy.node, allowed.node,
  h('button', { type: 'submit', class: 'button primary' }, 'Save changes'), slot), { noValidate: true });
  return form;
}
