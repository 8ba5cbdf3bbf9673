// Erasures (#/erasures): erase a recipient's data from every service's jobs, and the audit list of every erasure.
// Every action is the admin API call README "Admin API" lists (/admin/erasures).
import { api, apiPage } from '../api.js';
import { h, setTitle, table, field, confirm, time, cursorList, pageSizeOf } from '../ui.js';
import { props, attempt } from './forms.js';

const PAGE_SIZE = 25;

export async function render(main, params, query) {
  setTitle('Erasures');
  const result = h('div', {});
  const rows = h('div', {});
  const erasures = erasureList(rows, pageSizeOf(query, PAGE_SIZE));
  main.append(h('h1', {}, 'Erasures'), eraseForm(result, () => erasures.show()), result, h('h2', {}, 'Audit (newest first)'), rows);
  await erasures.show();
}

function eraseForm(result, refresh) {
  const recipient = h('input', { type: 'text', name: 'recipient', autocomplete: 'off' });
  const slot = h('div', {});
  const form = props(h('form', {
    'aria-label': 'Erase a recipient',
    onsubmit: async event => {
      event.preventDefault();
      result.replaceChildren();
      if (recipient.value.trim() !== '' && !(await confirm(`Erase the params of every job, of any service, that holds ${recipient.value}? This cannot be undone.`))) return;
      const erased = await attempt(form, slot, () => api('POST', '/admin/erasures', { recipient: recipient.value }));
      if (!erased) return;
      recipient.value = '';
      result.replaceChildren(h('p', { role: 'status', class: 'notice' },
        `Erased the params of ${erased.erased} job${erased.erased === 1 ? '' : 's'}.`,
        erased.notEnded.length ? ` ${erased.notEnded.length} being sent now were left (not ended): ${erased.notEnded.join(', ')}.` : ''));
      await refresh();
    },
  }, h('h2', {}, 'Erase a recipient'),
  h('p', { class: 'hint' }, 'Erases the params of every job, of any service, addressed to this email address or phone number. A job not started is canceled first; one being sent is left and listed.'),
  h('div', { 'data-path': 'recipient' }, field('Recipient', recipient, 'An email address or a phone number. Only its SHA-256 is recorded.')),
  h('button', { type: 'submit', class: 'button danger' }, 'Erase'), slot), { noValidate: true });
  return form;
}

function erasureList(slot, size) {
  return cursorList(slot,
    after => apiPage(`/admin/erasures?pageSize=${size}${after ? `&after=${encodeURIComponent(after)}` : ''}`),
    page => table([
      { title: 'When', cell: e => time(e.at) },
      { title: 'Who', cell: e => e.by },
      { title: 'Kind', cell: e => e.kind },
      { title: 'What', cell: e => (e.recipientSha256 ? h('span', {}, 'recipient SHA-256 ', h('code', {}, e.recipientSha256))
        : e.offerId ? h('a', { href: `#/offers/${e.offerId}` }, `offer ${e.offerId}`) : '') },
      { title: 'Service', cell: e => (e.serviceId ? h('a', { href: `#/services/${e.serviceId}` }, 'service') : 'any') },
      { title: 'Jobs erased', cell: e => String(e.erased) },
      { title: 'Not ended', cell: e => String(e.notEnded?.length ?? 0) },
    ], page.items, 'Erasures'),
    'Pages of erasures');
}
