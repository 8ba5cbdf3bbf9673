// Shared templates (#/templates, #/templates/:id): the admin's templates that the services named may use by key.
// Every action is the admin API call README "Admin API" lists (/admin/templates).
import { api } from '../api.js';
import { h, setTitle, table, field, button, confirm, time, go } from '../ui.js';
import { props, fill, attempt, failed, jsonControl, FormError } from './forms.js';

const PAGE_SIZE = 25;

/** The shared templates, paged by the API, and a form that creates one. */
export async function list(main, params, query) {
  setTitle('Templates');
  main.append(h('h1', {}, 'Shared templates'),
    h('p', { class: 'hint' }, 'A shared template is seen by the services it names; a service\'s own template with the same key wins for that service.'));
  const rows = h('div', {});
  const page = Math.max(1, Number.parseInt(query?.get('page') ?? '1', 10) || 1);
  let types = [], services = [];
  try {
    [types, services] = await Promise.all([api('GET', '/admin/adapter-types'), api('GET', '/admin/services')]);
  } catch (error) {
    failed(main, error);
    return;
  }
  main.append(rows, createForm(types, services));
  await showTemplates(rows, page, services);
}

async function showTemplates(slot, page, services) {
  let result;
  try {
    result = await api('GET', `/admin/templates?page=${page}&pageSize=${PAGE_SIZE}`);
  } catch (error) {
    failed(slot, error);
    return;
  }
  const names = new Map(services.map(s => [s.id, s.name]));
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  fill(slot, h('h2', { id: 'templates-h' }, `All shared templates (${result.total})`),
    table([
      { title: 'Key', cell: t => h('a', { href: `#/templates/${t.id}` }, t.key) },
      { title: 'Type', cell: t => t.type },
      { title: 'Locales', cell: t => Object.keys(t.variants ?? {}).join(', ') },
      { title: 'Services', cell: t => t.services.map(id => names.get(id) ?? id).join(', ') },
      { title: 'Version', cell: t => String(t.version) },
      { title: 'Changed', cell: t => time(t.updatedAt) },
    ], result.items, { labelledBy: 'templates-h' }),
    pages > 1 ? h('nav', { class: 'pager', 'aria-label': 'Pages of templates' },
      page > 1 ? h('a', { href: `#/templates?page=${page - 1}`, rel: 'prev' }, 'Previous') : null,
      ` Page ${page} of ${pages} `,
      page < pages ? h('a', { href: `#/templates?page=${page + 1}`, rel: 'next' }, 'Next') : null) : null);
}

function createForm(types, services) {
  const key = h('input', { type: 'text', name: 'key' });
  const type = h('select', { name: 'type' }, props(h('option', {}, '(choose)'), { value: '' }),
    ...types.map(t => props(h('option', {}, t.name), { value: t.name })));
  const locale = props(h('input', { type: 'text', name: 'defaultLocale' }), { placeholder: 'en' });
  const variants = jsonControl('variants', 'Variants', undefined,
    'Per locale, an object shaped like the type\'s params whose strings are Liquid, e.g. {"en": {"subject": "Hi {{ name }}", "text": "..."}}.', true, 8);
  const boxes = services.map(s => [s.id, h('input', { type: 'checkbox', name: 'services', value: s.id })]);
  const slot = h('div', {});
  const form = props(h('form', {
    'aria-label': 'New shared template',
    onsubmit: async event => {
      event.preventDefault();
      const created = await attempt(form, slot, () => {
        const body = {
          key: key.value, type: type.value === '' ? null : type.value, defaultLocale: locale.value === '' ? null : locale.value,
          variants: variants.read() ?? null, services: boxes.filter(([, b]) => b.checked).map(([id]) => id),
        };
        if (body.variants !== null && (typeof body.variants !== 'object' || Array.isArray(body.variants)))
          throw new FormError('variants', 'must be a JSON object keyed by locale');
        return api('POST', '/admin/templates', body);
      });
      if (created) go(`#/templates/${created.id}`);
    },
  }, h('h2', {}, 'New shared template'),
  h('div', { 'data-path': 'key' }, field('Key', key, 'Unique among shared templates; offers name it as their template.')),
  h('div', { 'data-path': 'type' }, field('Adapter type', type, 'The adapter type whose params it renders.')),
  h('div', { 'data-path': 'defaultLocale' }, field('Default locale', locale, 'A locale like en or de-AT that has a variant.')),
  variants.node,
  h('fieldset', { 'data-path': 'services' }, h('legend', {}, 'Services that see it (at least one)'),
    ...(boxes.length ? boxes.map(([id, box]) => field(services.find(s => s.id === id).name, box)) : [h('p', {}, 'No services yet.')])),
  h('button', { type: 'submit', class: 'button primary' }, 'Create template'), slot), { noValidate: true });
  return form;
}

/** One shared template: what it holds, and delete. */
export async function detail(main, params) {
  let template, services;
  try {
    [template, services] = await Promise.all([
      api('GET', `/admin/templates/${encodeURIComponent(params.id)}`), api('GET', '/admin/services')]);
  } catch (error) {
    setTitle('Template');
    main.append(h('h1', {}, 'Shared template'));
    failed(main, error);
    return;
  }
  setTitle(`Template ${template.key}`);
  const names = new Map(services.map(s => [s.id, s.name]));
  const slot = h('div', {});
  const remove = async () => {
    if (!(await confirm(`Delete the shared template ${template.key}? Offers naming it are refused from now on.`))) return;
    try {
      await api('DELETE', `/admin/templates/${template.id}`);
    } catch (error) {
      slot.replaceChildren();
      failed(slot, error);
      return;
    }
    go('#/templates');
  };
  main.append(h('h1', {}, `Template ${template.key}`),
    h('p', {}, `A shared ${template.type} template, version ${template.version}. Created `, time(template.createdAt),
      ', changed ', time(template.updatedAt), '. ', h('a', { href: '#/templates' }, 'All templates')),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Default locale'), h('dd', {}, template.defaultLocale),
      h('dt', {}, 'Services'), h('dd', {}, ...template.services.flatMap((id, i) => [i ? ', ' : null,
        h('a', { href: `#/services/${id}` }, names.get(id) ?? id)]))),
    h('h2', {}, 'Variants'),
    ...Object.entries(template.variants ?? {}).flatMap(([loc, fields]) => [
      h('h3', {}, loc), h('pre', { class: 'json' }, JSON.stringify(fields, null, 2))]),
    h('section', { 'aria-labelledby': 'actions-h' }, h('h2', { id: 'actions-h' }, 'Actions'),
      button('Delete template', remove, { kind: 'danger' }), slot));
}
