// Erasures (#/erasures): erase a recipient's data from every service's jobs, and the audit list of every erasure.
// Every action is the admin API call README "Admin API" lists (/admin/erasures).
import { api } from '../api.js';
import { h, setTitle, table, field, confirm, time } from '../ui.js';
import { props, fill, attempt, failed } from './forms.js';

const PAGE_SIZE = 25;

export async function render(main, params, query) {
  setTitle('Erasures');
  const page = Math.max(1, Number.parseInt(query?.get('page') ?? '1', 10) || 1);
  const result = h('div', {});
  const rows = h('div', {});
  main.append(h('h1', {}, 'Erasures'), eraseForm(result, () => showErasures(rows, page)), result, rows);
  await showErasures(rows, page);
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

async function showErasures(slot, page) {
  let result;
  try {
    result = await api('GET', `/admin/erasures?page=${page}&pageSize=${PAGE_SIZE}`);
  } catch (error) {
    slot.replaceChildren();
    failed(slot, error);
    return;
  }
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  fill(slot, h('h2', {}, `Audit (${result.total}, newest first)`),
    table([
      { title: 'When', cell: e => time(e.at) },
      { title: 'Who', cell: e => e.by },
      { title: 'Kind', cell: e => e.kind },
      { title: 'What', cell: e => (e.recipientSha256 ? h('span', {}, 'recipient SHA-256 ', h('code', {}, e.recipientSha256))
        : e.offerId ? h('a', { href: `#/offers/${e.offerId}` }, `offer ${e.offerId}`) : '') },
      { title: 'Service', cell: e => (e.serviceId ? h('a', { href: `#/services/${e.serviceId}` }, 'service') : 'any') },
      { title: 'Jobs erased', cell: e => String(e.erased) },
      { title: 'Not ended', cell: e => String(e.notEnded?.length ?? 0) },
    ], result.items, 'Erasures'),
    pages > 1 ? h('nav', { class: 'pager', 'aria-label': 'Pages of erasures' },
      page > 1 ? h('a', { href: `#/erasures?page=${page - 1}`, rel: 'prev' }, 'Previous') : null,
      ` Page ${page} of ${pages} `,
      page < pages ? h('a', { href: `#/erasures?page=${page + 1}`, rel: 'next' }, 'Next') : null) : null);
}
