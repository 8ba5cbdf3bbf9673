import { signIn, takeSessionEnd } from '../api.js';
import { signedInAs } from '../app.js';
import { h, setTitle, field, problem, go } from '../ui.js';

/** The sign-in form. The key goes to POST /console/session once; the field is cleared and nothing keeps it. */
export async function render(main) {
  setTitle('Sign in');
  const ended = takeSessionEnd();
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'current-password', required: true });
  const errors = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
  const form = h('form', {
    class: 'signin',
    onsubmit: async event => {
      event.preventDefault();
      errors.replaceChildren();
      submit.disabled = true;
      try {
        const value = key.value;
        key.value = '';
        signedInAs(await signIn(value));
        go('#/');
      } catch (error) {
        errors.append(problem(error));
        key.focus();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', null, 'Sign in'),
  // The API's 401 speaks of Bearer keys; the reader needs to know why the page they were on is gone.
  ended ? h('div', { class: 'problem', role: 'status' }, h('strong', null, 'Your session has ended.'),
    h('p', null, 'It expired, was signed out in another tab or window, or its admin key is no longer configured. Sign in again.')) : null,
  h('p', null, 'Sign in with one of the service\'s admin keys. The browser keeps only a session cookie, not the key.'),
  field('Admin key', key),
  errors,
  submit);
  main.append(form);
  key.focus();
}
