// Services (#/services, #/services/:id) and invites: every action is the admin API call README "Admin API" lists.
import { api, apiPage } from '../api.js';
import { h, setTitle, table, field, button, confirm, time, cursorList, pageSizeOf } from '../ui.js';
import { props, attempt, secretOnce, historyList, badge, failed, showProblem, FormError } from './forms.js';

const PAGE_SIZE = 25;

const liveKeys = service => service.keys.filter(k => !k.revokedAt);

/** The list of services (by name, a page at a time by the API's cursor), a create form, and the invites. */
export async function list(main, params, query) {
  setTitle('Services');
  main.append(h('h1', {}, 'Services'));
  const once = h('div', {});
  const rows = h('div', {});
  const invites = h('div', {});
  const services = servicesList(rows, pageSizeOf(query, PAGE_SIZE));
  main.append(createForm(once, () => services.show()), once, h('h2', {}, 'All services'), rows,
    h('h2', { id: 'invites' }, 'Invites'),
    h('p', { class: 'hint' }, 'An invite code lets one person register one service (POST /v1/register) before it expires.'),
    invites);
  await Promise.all([services.show(), showInvites(invites, pageSizeOf(query, PAGE_SIZE))]);
}

function createForm(once, refresh) {
  const name = h('input', { type: 'text', name: 'name' });
  const slot = h('div', {});
  const form = props(h('form', {
    class: 'inline-form', 'aria-label': 'New service',
    onsubmit: async event => {
      event.preventDefault();
      const created = await attempt(form, slot, () => api('POST', '/admin/services', { name: name.value }));
      if (!created) return;
      name.value = '';
      once.replaceChildren(
        secretOnce(`API key of ${created.name}`, created.apiKey, 'the key'),
        h('p', {}, h('a', { href: `#/services/${created.id}` }, `Open ${created.name}`)));
      await refresh();
    },
  }, h('h2', {}, 'New service'), h('div', { 'data-path': 'name' }, field('Name', name, 'Unique; 1 to 100 characters.')),
  h('button', { type: 'submit', class: 'button primary' }, 'Create service'), slot), { noValidate: true });
  return form;
}

function servicesList(slot, size) {
  return cursorList(slot,
    after => apiPage(`/admin/services?limit=${size}${after ? `&after=${encodeURIComponent(after)}` : ''}`),
    page => page.items.length === 0 ? h('p', {}, 'No services yet.') : table([
      { title: 'Name', cell: s => h('a', { href: `#/services/${s.id}` }, s.name) },
      { title: 'Status', cell: s => badge(s.status) },
      { title: 'Live keys', cell: s => String(liveKeys(s).length) },
      { title: 'Created', cell: s => time(s.createdAt) },
    ], page.items, 'Services, by name'),
    'Pages of services');
}

function inviteState(invite) {
  if (invite.usedAt) return 'used';
  if (invite.revokedAt) return 'revoked';
  if (new Date(invite.expiresAt) <= new Date()) return 'expired';
  return 'open';
}

async function showInvites(slot, size) {
  const once = h('div', {});
  const listSlot = h('div', {});
  const note = h('input', { type: 'text', name: 'note' });
  const hours = props(h('input', { type: 'number', name: 'expiresInHours' }), { min: '0', max: '720', step: 'any', placeholder: '72' });
  const errors = h('div', {});
  const invites = cursorList(listSlot,
    after => apiPage(`/admin/invites?limit=${size}${after ? `&after=${encodeURIComponent(after)}` : ''}`),
    page => page.items.length === 0 ? h('p', {}, 'No invites yet.') : table([
      { title: 'Note', cell: i => i.note ?? '' },
      { title: 'State', cell: i => badge(inviteState(i)) },
      { title: 'Created', cell: i => h('span', {}, time(i.createdAt), ` by ${i.createdBy}`) },
      { title: 'Expires', cell: i => time(i.expiresAt) },
      { title: 'Service', cell: i => (i.serviceId ? h('a', { href: `#/services/${i.serviceId}` }, 'registered service') : '') },
      { title: 'Action', cell: i => (inviteState(i) === 'open' ? revokeButton(`Revoke invite ${i.note ? `"${i.note}"` : `created ${i.createdAt}`}`, () => revoke(i)) : '') },
    ], page.items, { labelledBy: 'invites' }),
    'Pages of invites');
  const refresh = () => invites.show();
  const revoke = async invite => {
    if (!(await confirm(`Revoke the invite${invite.note ? ` "${invite.note}"` : ''}? Its code stops working.`))) return;
    try {
      await api('DELETE', `/admin/invites/${invite.id}`);
    } catch (error) {
      showProblem(listSlot, errors, error);
      return;
    }
    await refresh();
  };
  const form = props(h('form', {
    class: 'inline-form', 'aria-label': 'New invite',
    onsubmit: async event => {
      event.preventDefault();
      if (hours.validity.badInput) return showProblem(form, errors, { problem: { title: 'Check the form.', errors: { expiresInHours: ['must be a number'] } } });
      const body = { note: note.value === '' ? null : note.value, expiresInHours: hours.value === '' ? null : Number(hours.value) };
      const created = await attempt(form, errors, () => api('POST', '/admin/invites', body));
      if (!created) return;
      note.value = '';
      hours.value = '';
      once.replaceChildren(secretOnce('Invite code', created.code, 'the invite code', 'If it is lost, revoke the invite and create another.'),
        h('p', {}, 'Expires ', time(created.expiresAt), '. The person registers with POST /v1/register {"name", "inviteCode"}.'));
      await refresh();
    },
  }, h('div', { 'data-path': 'note' }, field('Note', note, 'Who it is for; at most 500 characters.')),
  h('div', { 'data-path': 'expiresInHours' }, field('Expires in hours', hours, 'Default 72, at most 720 (30 days).')),
  h('button', { type: 'submit', class: 'button primary' }, 'Create invite'), errors), { noValidate: true });
  slot.replaceChildren(form, once, listSlot);
  await refresh();
}

/** One service: rename, block/unblock, keys, limits, retention, status callbacks and the history of admin changes. */
export async function detail(main, params) {
  const header = h('div', {});
  const once = h('div', {});
  const body = h('div', {});
  const notice = h('p', { role: 'status', class: 'notice' });
  main.append(header, notice, once, body);
  // The message (e.g. "Limits saved.") is shown once the page is redrawn from the API's state.
  const refresh = async message => {
    notice.textContent = '';
    let service, limits, history, callbacks;
    try {
      [service, limits, history, callbacks] = await Promise.all([
        api('GET', `/admin/services/${encodeURIComponent(params.id)}`),
        api('GET', `/admin/services/${encodeURIComponent(params.id)}/limits`),
        api('GET', `/admin/services/${encodeURIComponent(params.id)}/history`),
        api('GET', `/admin/services/${encodeURIComponent(params.id)}/callbacks`),
      ]);
    } catch (error) {
      setTitle('Service', header);
      header.replaceChildren(h('h1', {}, 'Service'));
      body.replaceChildren();
      failed(body, error);
      return;
    }
    setTitle(`Service ${service.name}`, header);
    header.replaceChildren(h('h1', {}, `Service ${service.name}`),
      h('p', {}, badge(service.status), ' Created ', time(service.createdAt), '. ', h('a', { href: '#/services' }, 'All services')));
    body.replaceChildren(
      renameForm(service, refresh), statusAction(service, refresh),
      keysSection(service, once, refresh), limitsForm(service, limits, refresh), retentionForm(service, refresh),
      callbacksSection(service, callbacks, once, refresh),
      h('section', { 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h' }, 'History (newest first)'), historyList(history)));
    notice.textContent = message ?? '';
  };
  await refresh();
}

function renameForm(service, refresh) {
  const name = h('input', { type: 'text', name: 'name', value: service.name });
  const slot = h('div', {});
  const form = props(h('form', {
    class: 'inline-form', 'aria-label': 'Rename',
    onsubmit: async event => {
      event.preventDefault();
      const done = await attempt(form, slot, () => api('PATCH', `/admin/services/${service.id}`, { name: name.value }));
      if (done) await refresh();
    },
  }, h('h2', {}, 'Rename'), h('div', { 'data-path': 'name' }, field('Name', name, 'Unique; 1 to 100 characters.')),
  h('button', { type: 'submit', class: 'button' }, 'Rename'), slot), { noValidate: true });
  return form;
}

function statusAction(service, refresh) {
  const slot = h('div', {});
  const blocked = service.status === 'Blocked';
  const act = async () => {
    const question = blocked ? `Unblock ${service.name}? Its keys work again.`
      : `Block ${service.name}? Its keys get 403 on every request until it is unblocked.`;
    if (!(await confirm(question))) return;
    try {
      await api('POST', `/admin/services/${service.id}/${blocked ? 'unblock' : 'block'}`);
    } catch (error) {
      slot.replaceChildren();
      failed(slot, error);
      return;
    }
    await refresh();
  };
  return h('section', { 'aria-labelledby': 'status-h' }, h('h2', { id: 'status-h' }, 'Status'),
    h('p', {}, blocked ? 'Blocked: its keys get 403.' : 'Active: its keys work.'),
    button(blocked ? 'Unblock service' : 'Block service', act, { kind: blocked ? 'primary' : 'danger' }), slot);
}

function keysSection(service, once, refresh) {
  const slot = h('div', {});
  const issue = async () => {
    try {
      const issued = await api('POST', `/admin/services/${service.id}/keys`);
      once.replaceChildren(secretOnce(`New API key of ${service.name}`, issued.apiKey, 'the key'));
    } catch (error) {
      slot.replaceChildren();
      failed(slot, error);
      return;
    }
    await refresh();
  };
  const revoke = async key => {
    if (!(await confirm(`Revoke the key ${key.prefix}…? Requests with it get 401 from now on.`))) return;
    try {
      await api('DELETE', `/admin/services/${service.id}/keys/${key.keyId}`);
    } catch (error) {
      slot.replaceChildren();
      failed(slot, error);
      return;
    }
    await refresh();
  };
  return h('section', { 'aria-labelledby': 'keys-h' }, h('h2', { id: 'keys-h' }, 'API keys'),
    h('p', { class: 'hint' }, 'Rotate a key by issuing the new one, switching the service to it, then revoking the old one.'),
    table([
      { title: 'Key', cell: k => h('code', {}, `${k.prefix}…`) },
      { title: 'Issued', cell: k => time(k.createdAt) },
      { title: 'Last used', cell: k => (k.lastUsedAt ? time(k.lastUsedAt) : 'never') },
      { title: 'State', cell: k => (k.revokedAt ? h('span', {}, badge('revoked'), ' ', time(k.revokedAt)) : badge('active')) },
      { title: 'Action', cell: k => (k.revokedAt ? '' : revokeButton(`Revoke key ${k.prefix}…`, () => revoke(k))) },
    ], service.keys, { labelledBy: 'keys-h' }),
    button('Issue a new key', issue, { kind: 'primary' }), slot);
}

const LIMITS = [
  ['offersPerSecond', 'Offers per second', 'any'], ['burst', 'Burst', '1'], ['jobsPerOffer', 'Jobs per offer', '1'],
  ['pendingJobs', 'Pending jobs', '1'], ['maxBodyBytes', 'Largest body (bytes)', '1'], ['maxParamsBytes', 'Largest params (bytes)', '1'],
];

/**
 * Number inputs for the fields of a merge patch (limits, retention): each prefilled with the service's own value, empty
 * meaning the default. read() gives only the fields that changed; an emptied one is sent as null (back to the default).
 */
function numberFields(fields, own, effective, unit) {
  const inputs = fields.map(([key, label, step]) => {
    const value = own?.[key];
    const input = props(h('input', { type: 'number', name: key, value: value === null || value === undefined ? '' : String(value) }),
      { step, min: '0', placeholder: `default (${effective?.[key] ?? '?'})` });
    const hint = `In force: ${effective?.[key] ?? 'unknown'}${unit}. Empty: the default.`;
    return [key, value, input, h('div', { 'data-path': key }, field(label, input, hint))];
  });
  return {
    nodes: inputs.map(([, , , node]) => node),
    read() {
      const patch = {};
      for (const [key, before, input] of inputs) {
        if (input.validity.badInput) throw new FormError(key, 'must be a number');
        const after = input.value === '' ? null : Number(input.value);
        if (after !== (before ?? null)) patch[key] = after;
      }
      return patch;
    },
  };
}

/** A merge-patch form: sends only what changed, shows "Saved."/"Nothing changed." and each problem at its field. */
function patchForm(label, heading, hint, fields, path, submitText, refresh) {
  const slot = h('div', {});
  const notice = h('p', { role: 'status' });
  const form = props(h('form', {
    'aria-label': label,
    onsubmit: async event => {
      event.preventDefault();
      notice.textContent = '';
      const saved = await attempt(form, slot, async () => {
        const patch = fields.read();
        return Object.keys(patch).length === 0 ? 'unchanged' : api('PATCH', path, patch);
      });
      if (saved === undefined) return;
      if (saved === 'unchanged') notice.textContent = 'Nothing changed.';
      else await refresh(`${heading} saved.`);
    },
  }, h('h2', {}, heading), h('p', { class: 'hint' }, hint), ...fields.nodes,
  h('button', { type: 'submit', class: 'button primary' }, submitText), notice, slot), { noValidate: true });
  return form;
}

function limitsForm(service, limits, refresh) {
  return patchForm('Limits', 'Limits', 'Set for this service; an empty field falls back to the default (shown in force).',
    numberFields(LIMITS, limits.own, limits.effective, ''), `/admin/services/${service.id}/limits`, 'Save limits', refresh);
}

const RETENTION = [
  ['paramsDays', 'Job params kept (days)', '1'], ['jobsDays', 'Ended offers and jobs kept (days)', '1'],
  ['idempotencyDays', 'Idempotency keys kept (days)', '1'],
];

function retentionForm(service, refresh) {
  const retention = service.retention ?? { set: {}, effective: {} };
  return patchForm('Retention', 'Retention', 'How long this service\'s data is kept before the sweep erases or deletes it; empty: the configured default.',
    numberFields(RETENTION, retention.set, retention.effective, ' days'), `/admin/services/${service.id}/retention`, 'Save retention', refresh);
}

const EVENTS = ['scheduled', 'queued', 'started', 'attemptFailed', 'finished', 'failed', 'expired', 'canceled'];

/** The service's status callbacks (as /v1/callbacks, on its behalf): list, create (the secret shown once), enable, delete. */
function callbacksSection(service, callbacks, once, refresh) {
  const slot = h('div', {});
  const base = `/admin/services/${service.id}/callbacks`;
  const act = async (question, method, path) => {
    if (question && !(await confirm(question))) return;
    try {
      await api(method, path);
    } catch (error) {
      slot.replaceChildren();
      failed(slot, error);
      return;
    }
    await refresh();
  };
  const url = h('input', { type: 'url', name: 'url' });
  const boxes = EVENTS.map(e => [e, h('input', { type: 'checkbox', name: 'events', value: e })]);
  const errors = h('div', {});
  const form = props(h('form', {
    'aria-label': 'New callback',
    onsubmit: async event => {
      event.preventDefault();
      const events = boxes.filter(([, box]) => box.checked).map(([e]) => e);
      const body = { url: url.value, ...(events.length ? { events } : {}) };
      const created = await attempt(form, errors, () => api('POST', base, body));
      if (!created) return;
      await refresh();
      const panel = secretOnce(`Signing secret of the callback to ${created.url}`, created.secret, 'the signing secret');
      // Unlike a key, this secret is kept (encrypted) to sign the deliveries: the panel must not say "only its hash".
      panel.querySelector('p').replaceChildren(h('strong', {}, 'Copy the signing secret now: it will not be shown again.'),
        ' It is stored encrypted, to sign each delivery. If it is lost, delete the callback and create another.');
      once.replaceChildren(panel);
    },
  }, h('h3', {}, 'New callback'),
  h('div', { 'data-path': 'url' }, field('URL', url, 'An absolute http or https URL; each delivery is signed with the secret shown once.')),
  h('fieldset', { 'data-path': 'events' }, h('legend', {}, 'Events'), h('p', { class: 'hint' }, 'None checked: the default set.'),
    ...boxes.map(([e, box]) => field(e, box))),
  h('button', { type: 'submit', class: 'button primary' }, 'Create callback'), errors), { noValidate: true });
  return h('section', { 'aria-labelledby': 'callbacks-h' }, h('h2', { id: 'callbacks-h' }, 'Status callbacks'),
    table([
      { title: 'URL', cell: c => h('code', {}, c.url) },
      { title: 'Events', cell: c => c.events.join(', ') },
      { title: 'State', cell: c => (c.enabled ? badge('active')
        : h('span', {}, badge('disabled'), ` ${c.disabledReason ?? ''} `, c.disabledAt ? time(c.disabledAt) : null)) },
      { title: 'Failures in a row', cell: c => String(c.consecutiveFailures) },
      { title: 'Created', cell: c => time(c.createdAt) },
      { title: 'Action', cell: c => h('span', {},
        c.enabled ? null : named(button('Enable', () => act(null, 'POST', `${base}/${c.id}/enable`), { kind: 'primary' }), `Enable the callback to ${c.url}`), ' ',
        named(button('Delete', () => act(`Delete the callback to ${c.url}? Its pending deliveries stop.`, 'DELETE', `${base}/${c.id}`), { kind: 'danger' }),
          `Delete the callback to ${c.url}`)) },
    ], callbacks, { labelledBy: 'callbacks-h' }),
    slot, form);
}

/** A button in a row of many, named for screen readers after what it acts on (its text alone would repeat in each row). */
function named(node, label) {
  node.setAttribute('aria-label', label);
  return node;
}

/** "Revoke" in a row of many: its accessible name says which invite or key it revokes. */
function revokeButton(name, onclick) {
  const revoke = button('Revoke', onclick, { kind: 'danger' });
  revoke.setAttribute('aria-label', name);
  return revoke;
}
