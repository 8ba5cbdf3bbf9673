// Helpers the services and adapters pages share: a form generated from a JSON Schema, an API problem shown next to the
// fields it names, a secret shown once with a Copy button, a merge patch of what an edit changed, and admin history.
import { h, field, button, problem, time } from '../ui.js';

// This file's styles, added once; a <link> to our own origin, which the console's CSP allows.
if (!document.querySelector('link[data-forms-css]'))
  document.head.append(h('link', { rel: 'stylesheet', href: new URL('./forms.css', import.meta.url).href, 'data-forms-css': '' }));

let sequence = 0;
const uid = prefix => `${prefix}-${++sequence}`;

/** replaceChildren that skips null children (a section a page leaves out), as h() does. */
export const fill = (node, ...children) => node.replaceChildren(...children.filter(c => c !== null && c !== undefined && c !== false));

/** Sets DOM properties h() may not know (readOnly, checked, min, rows...). */
export const props = (node, values) => Object.assign(node, values);

/** Input the form could not read (bad JSON, not a number), reported like an API field error. */
export class FormError extends Error {
  constructor(path, message) {
    super(`${path}: ${message}`);
    this.problem = { title: 'Check the form.', errors: { [path]: [message] } };
  }
}

const isObject = v => v !== null && typeof v === 'object' && !Array.isArray(v);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The target of an error path: the control with that data-path, else the nearest enclosing one (config.x.y -> config.x). */
function targetOf(form, path) {
  for (let p = path; p; p = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '')) {
    const node = form.querySelector(`[data-path="${CSS.escape(p)}"]`);
    if (node) return node;
    if (!/(\.[^.[\]]+|\[\d+\])$/.test(p)) break;
  }
  return null;
}

export function clearProblem(form, slot) {
  form.querySelectorAll('.field-error').forEach(n => n.remove());
  form.querySelectorAll('[aria-invalid]').forEach(n => n.removeAttribute('aria-invalid'));
  slot.replaceChildren();
}

/**
 * Shows an ApiError (or FormError): each field error next to the control it names, and in `slot` the problem itself
 * (title, detail and every field error with its path) when some path names no control, so nothing is lost.
 */
export function showProblem(form, slot, error) {
  clearProblem(form, slot);
  if (!error?.problem) {
    slot.append(h('p', { class: 'problem', role: 'alert' }, error?.message ?? String(error)));
    return;
  }
  const errors = Object.entries(error.problem.errors ?? {});
  let placed = 0;
  for (const [path, messages] of errors) {
    const target = targetOf(form, path);
    if (!target) continue;
    placed++;
    const id = uid('error');
    target.append(h('p', { class: 'field-error', id }, `${path}: ${[].concat(messages).join(' ')}`));
    const input = target.querySelector('input, select, textarea');
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
    }
  }
  form.querySelector('[aria-invalid="true"]')?.focus();
  // Every field error sits at its field: the title says so; otherwise the whole problem (title, detail, each path).
  slot.append(errors.length > 0 && placed === errors.length
    ? h('p', { class: 'problem', role: 'alert' }, h('strong', {}, error.problem.title ?? 'The request is not valid.'),
      ` ${errors.length === 1 ? 'One field needs' : `${errors.length} fields need`} a change: see the message under ${errors.length === 1 ? 'it' : 'each'}.`)
    : problem(error));
}

/** Runs an async action for a form: clears the old errors, shows the new ones. Returns the action's result or undefined. */
export async function attempt(form, slot, action) {
  clearProblem(form, slot);
  const submit = form.querySelector('[type=submit]');
  if (submit) submit.disabled = true;
  try {
    return await action();
  } catch (error) {
    showProblem(form, slot, error);
    return undefined;
  } finally {
    if (submit) submit.disabled = false;
  }
}

/** A secret the API returns once (a service key, an invite code, a worker key), with a Copy button. */
export function secretOnce(heading, value, what, lost = 'If it is lost, issue a new one.') {
  const id = uid('secret');
  const output = props(h('input', { type: 'text', id, class: 'secret', 'aria-label': heading }), { readOnly: true, value });
  const status = h('span', { class: 'copy-status', role: 'status' });
  const copy = button('Copy', async () => {
    try {
      await navigator.clipboard.writeText(value);
      status.textContent = 'Copied to the clipboard.';
    } catch {
      output.select();
      status.textContent = 'The browser refused the clipboard: the text is selected, copy it with Ctrl+C.';
    }
  }, { kind: 'primary' });
  return h('section', { class: 'once', 'aria-labelledby': `${id}-h` },
    h('h2', { id: `${id}-h` }, heading),
    h('p', {}, h('strong', {}, `Copy ${what} now: it will not be shown again.`),
      ` Only its hash is stored. ${lost}`),
    h('div', { class: 'once-value' }, output, ' ', copy, ' ', status));
}

/**
 * The RFC 7396 merge patch that turns `before` into `after`: fields removed become null, objects are diffed field by
 * field, and fields `after` leaves out that `before` never showed (secrets) are simply not sent, so they are kept.
 */
export function mergePatch(before, after) {
  const patch = {};
  for (const [k, v] of Object.entries(before ?? {}))
    if (v !== null && v !== undefined && !(k in after)) patch[k] = null;
  for (const [k, v] of Object.entries(after)) {
    const b = before?.[k];
    if (isObject(v) && isObject(b)) {
      const sub = mergePatch(b, v);
      if (Object.keys(sub).length) patch[k] = sub;
    } else if (!same(v, b)) patch[k] = v;
  }
  return patch;
}

// ---- The form generator --------------------------------------------------------------------------------------------

function hintOf(schema, extra) {
  const parts = [];
  if (schema.description) parts.push(schema.description);
  if (schema.minimum !== undefined && schema.maximum !== undefined) parts.push(`from ${schema.minimum} to ${schema.maximum}`);
  else if (schema.minimum !== undefined) parts.push(`at least ${schema.minimum}`);
  else if (schema.exclusiveMinimum !== undefined && schema.maximum !== undefined) parts.push(`above ${schema.exclusiveMinimum}, at most ${schema.maximum}`);
  else if (schema.exclusiveMinimum !== undefined) parts.push(`above ${schema.exclusiveMinimum}`);
  else if (schema.maximum !== undefined) parts.push(`at most ${schema.maximum}`);
  if (schema.default !== undefined && typeof schema.default !== 'object') parts.push(`default: ${schema.default}`);
  if (extra) parts.push(extra);
  return parts.length ? parts.join('. ') + '.' : undefined;
}

const labelOf = (name, required) => (required ? `${name} (required)` : name);

function wrap(path, node) {
  return h('div', { class: 'schema-field', 'data-path': path }, node);
}

function required(input, isRequired) {
  if (isRequired) input.setAttribute('aria-required', 'true');
  return input;
}

/**
 * A control for one value of a JSON Schema: {node, read()}. read() gives the value, undefined when left empty (so the
 * API applies its default, or a merge patch keeps what is stored), or throws FormError for input it cannot parse.
 * options: {name, required, secret, secretSet, initial, editing, secretFields (top level only)}
 */
export function schemaControl(schema, path, options) {
  const { name = path, initial, editing } = options;
  const type = schema.type;

  if (type === 'object' && isObject(schema.properties)) {
    const requiredNames = schema.required ?? [];
    const children = Object.entries(schema.properties).map(([key, sub]) => [key, schemaControl(sub, `${path}.${key}`, {
      name: key, required: requiredNames.includes(key), editing,
      initial: isObject(initial) ? initial[key] : undefined,
      secret: (options.secretFields ?? []).includes(key) || sub.writeOnly === true,
      secretSet: (options.secretsSet ?? []).includes(key),
    })]);
    const node = h('fieldset', { class: 'schema-object', 'data-path': path },
      h('legend', {}, labelOf(name, options.required)),
      schema.description ? h('p', { class: 'hint' }, schema.description) : null,
      ...children.map(([, c]) => c.node));
    return {
      node,
      read() {
        // Stored keys the schema does not draw are carried over as they are: a merge patch of this value then leaves
        // them alone (only a drawn field the user emptied becomes null).
        const value = {};
        if (isObject(initial))
          for (const [key, v] of Object.entries(initial)) if (!(key in schema.properties)) value[key] = v;
        for (const [key, c] of children) {
          const v = c.read();
          if (v !== undefined) value[key] = v;
        }
        return options.top || Object.keys(value).length ? value : undefined;
      },
    };
  }

  if (Array.isArray(schema.enum) && schema.enum.every(v => typeof v === 'string' || typeof v === 'number')) {
    const select = required(h('select', { name: path }), options.required);
    const blank = schema.default !== undefined ? `(default: ${schema.default})` : '(none)';
    if (!options.required || initial === undefined) select.append(props(h('option', {}, blank), { value: '' }));
    schema.enum.forEach((v, i) => select.append(props(h('option', {}, String(v)), { value: String(i), selected: same(v, initial) })));
    return {
      node: wrap(path, field(labelOf(name, options.required), select, hintOf({ ...schema, default: undefined }))),
      read: () => (select.value === '' ? undefined : schema.enum[Number(select.value)]),
    };
  }

  if (type === 'boolean') {
    const box = props(h('input', { type: 'checkbox', name: path }), { checked: initial ?? schema.default ?? false });
    return {
      node: wrap(path, field(labelOf(name, options.required), box, hintOf(schema))),
      // Unchecked is sent only when it differs from the default or from what was stored, so an edit sends nothing new.
      read: () => (box.checked ? true : initial !== undefined || schema.default === true ? false : undefined),
    };
  }

  if (type === 'string') {
    if (options.secret) {
      const input = required(props(h('input', { type: 'password', name: path }), { autocomplete: 'new-password' }), options.required && !editing);
      const state = editing ? (options.secretSet ? 'A value is set: leave empty to keep it' : 'Not set') : 'Write-only: never shown again';
      // An optional secret that is set can also be removed: the merge patch then sends null for it.
      const remove = editing && options.secretSet && !options.required ? h('input', { type: 'checkbox', name: `${path}.remove` }) : null;
      return {
        node: wrap(path, h('div', {}, field(labelOf(name, options.required && !editing), input, hintOf(schema, state)),
          remove ? field(`Remove the stored ${name}`, remove) : null)),
        read: () => (remove?.checked ? null : input.value === '' ? undefined : input.value),
      };
    }
    const input = required(h('input', { type: 'text', name: path, value: typeof initial === 'string' ? initial : '' }), options.required);
    if (schema.default !== undefined) input.placeholder = String(schema.default);
    return {
      node: wrap(path, field(labelOf(name, options.required), input, hintOf(schema))),
      // A stored "" left as it is reads back as "", not as "emptied".
      read: () => (input.value === '' ? (initial === '' ? '' : undefined) : input.value),
    };
  }

  if (type === 'integer' || type === 'number') {
    const input = required(h('input', { type: 'number', name: path, value: typeof initial === 'number' ? String(initial) : '' }), options.required);
    props(input, { step: type === 'integer' ? '1' : 'any' });
    if (schema.minimum !== undefined) input.min = String(schema.minimum);
    if (schema.maximum !== undefined) input.max = String(schema.maximum);
    if (schema.default !== undefined) input.placeholder = String(schema.default);
    return {
      node: wrap(path, field(labelOf(name, options.required), input, hintOf(schema))),
      read() {
        if (input.validity.badInput) throw new FormError(path, 'must be a number');
        return input.value === '' ? undefined : Number(input.value);
      },
    };
  }

  if (type === 'array' && schema.items?.type === 'string' && !schema.items.enum) {
    const area = required(props(h('textarea', { name: path }), { rows: 3, value: Array.isArray(initial) ? initial.join('\n') : '' }), options.required);
    return {
      node: wrap(path, field(labelOf(name, options.required), area, hintOf(schema, 'One per line'))),
      read() {
        const lines = area.value.split('\n').map(l => l.trim()).filter(Boolean);
        return lines.length ? lines : undefined;
      },
    };
  }

  // Anything else (oneOf, free-form objects, arrays of objects, type lists): the value as JSON.
  return jsonControl(path, labelOf(name, options.required), initial, hintOf(schema, 'As JSON'), options.required);
}

/** A JSON textarea: {node, read()}; empty reads as undefined, bad JSON throws a FormError naming the path. */
export function jsonControl(path, label, initial, hint, isRequired, rows = 4) {
  const area = required(props(h('textarea', { name: path, class: 'json' }), {
    rows, spellcheck: false, value: initial === undefined ? '' : JSON.stringify(initial, null, 2),
  }), isRequired);
  return {
    node: wrap(path, field(label, area, hint)),
    read() {
      if (area.value.trim() === '') return undefined;
      try {
        return JSON.parse(area.value);
      } catch (e) {
        throw new FormError(path, `is not valid JSON (${e.message})`);
      }
    },
  };
}

/** A config form for an object schema; read() always gives an object. */
export function schemaForm(schema, path, options) {
  if (schema?.type !== 'object' || !isObject(schema.properties))
    return jsonControl(path, options.name ?? path, options.initial ?? {}, 'As JSON', true, 8);
  return schemaControl(schema, path, { ...options, top: true, required: false });
}

// ---- Admin history -------------------------------------------------------------------------------------------------

const words = type => type.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, c => c.toUpperCase())
  .replace(/ ([A-Z])(?=[a-z])/g, (_, c) => ` ${c.toLowerCase()}`);

const HIDDEN = new Set(['by', 'at', 'serviceId', 'adapterId', 'id']);

/** Every admin change, newest first: when, what, who, and the change's own fields. */
export function historyList(entries) {
  if (!entries.length) return h('p', {}, 'No changes recorded.');
  return props(h('ol', { class: 'history' },
    ...[...entries].reverse().map(e => {
      const data = isObject(e.data) ? e.data : {};
      const details = Object.entries(data).filter(([k, v]) => !HIDDEN.has(k) && v !== null && v !== undefined && v !== false)
        .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
      return h('li', {},
        time(e.timestamp), ' ', h('strong', {}, words(e.type)), ' by ', h('span', { class: 'actor' }, data.by ?? 'unknown'),
        details.length ? h('div', { class: 'history-details' }, details.join('; ')) : null);
    })), { reversed: true });
}

/** A status word as a badge; the class names the tone (ok, warn, bad) so colour is never the only signal. */
export function badge(text) {
  const tone = { ok: 'ok', active: 'ok', blocked: 'bad', 'no live worker': 'bad', 'backlog growing': 'warn' }[String(text).toLowerCase()] ?? 'warn';
  return h('span', { class: `badge ${tone}` }, String(text));
}

/** Shows a page-level failure (the API's problem) in place of the page's content. */
export function failed(main, error) {
  main.append(error?.problem ? problem(error) : h('p', { class: 'problem', role: 'alert' }, error?.message ?? String(error)));
}
