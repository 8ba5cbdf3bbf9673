// The admin API, authenticated by the session cookie; every call is one a curl user with the key could make.

/** A non-2xx answer: `problem` is the RFC 7807 body (title, detail, errors: {path: [messages]}). */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.title || problem.detail)) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || { title: `HTTP ${status}` };
  }
}

let csrfToken = null;
// Why the session ended under a page (a 401 from the API: expired, signed out in another tab, its key retired), kept for
// the sign-in page to say, so a page that was following something does not just turn into a form without a word.
let ended = false;

/** Whether a 401 from the API sent the reader to #/signin (true once), rather than they came there another way. */
export function takeSessionEnd() {
  const was = ended;
  ended = false;
  return was;
}

/** The session (GET /console/session) or null when signed out; keeps its CSRF token for the calls that change state. */
export async function session() {
  const response = await fetch('/console/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (response.status === 401) { csrfToken = null; return null; }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const body = await response.json();
  csrfToken = body.csrfToken;
  return body;
}

/** Signs in; the key is sent once and not kept anywhere. */
export async function signIn(key) {
  const response = await fetch('/console/session', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ key }),
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  ended = false; // a late 401 of the old session's pages must not greet the next sign-in page
  return session();
}

export async function signOut() {
  const response = await fetch('/console/session', { method: 'DELETE', credentials: 'same-origin', headers: csrfHeaders() });
  csrfToken = null;
  if (!response.ok && response.status !== 401) throw new ApiError(response.status, await problemOf(response));
}

function csrfHeaders() { return csrfToken ? { 'X-CSRF-Token': csrfToken } : {}; }

async function problemOf(response) {
  const text = await response.text();
  try { return text ? JSON.parse(text) : { title: `HTTP ${response.status}` }; }
  catch { return { title: `HTTP ${response.status}`, detail: text.slice(0, 300) }; }
}

/**
 * One admin API call: api('GET', '/admin/services?page=2'), api('POST', '/admin/services', {name}).
 * Returns the parsed body (null for 204 or an empty body); a non-2xx answer throws ApiError; 401 goes to #/signin.
 */
export async function api(method, path, body) {
  const response = await call(method, path, body);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// The one fetch of every admin call: a 401 ends the session the same way for a page of a list as for anything else.
async function call(method, path, body) {
  method = method.toUpperCase();
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    if (!csrfToken) await session(); // e.g. after a reload: the token comes with the session
    Object.assign(headers, csrfHeaders());
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    csrfToken = null;
    ended = true;
    if (location.hash !== '#/signin') location.hash = '#/signin';
    throw new ApiError(401, await problemOf(response));
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response;
}

/**
 * One page of a list that pages by cursor: {items, next}. A list answering an array (services, adapters, invites) names
 * its next page in a Link header (rel="next"); a paged object ({items, next}, as dead letters) in its body. `next` is
 * the cursor to pass as `after`, or null on the last page.
 */
export async function apiPage(path) {
  const response = await call('GET', path);
  const body = await response.json();
  if (!Array.isArray(body)) return { ...body, items: body.items || [], next: body.next || null };
  const link = /<([^>]*)>\s*;\s*rel="next"/.exec(response.headers.get('Link') || '');
  return { items: body, next: link ? new URL(link[1], location.origin).searchParams.get('after') : null };
}
