/**
 * Field-level checks on the "create an election" form, before it is sent (the server checks
 * again and its errors are shown at the same fields): a title, at least two choices, no duplicate
 * choices (after trimming and Unicode NFC normalisation, ignoring case), 1 ≤ t ≤ n.
 */
const form = globalThis.document?.getElementById('election-form'); // node imports problems()

/** The problems of the form's values, as {field: message}. */
export function problems(values) {
  const out = {};
  if (!values.title.trim()) out.title = 'Give the election a title.';
  const choices = values.choices.split('\n').map((c) => c.trim()).filter(Boolean);
  const seen = new Map();
  const dups = [];
  for (const c of choices) {
    const key = c.normalize('NFC').toLocaleLowerCase();
    if (seen.has(key) && !dups.includes(c)) dups.push(c);
    seen.set(key, c);
  }
  if (choices.length < 2) out.choices = 'Enter at least two choices, one per line.';
  else if (dups.length) out.choices = `Each choice must be different: “${dups[0]}” appears more than once.`;
  const n = Number(values.n);
  const t = Number(values.t);
  if (!Number.isInteger(n) || n < 1 || n > 64) out.n = 'The number of mix nodes is a whole number from 1 to 64.';
  if (!Number.isInteger(t) || t < 1) out.t = 'The threshold is a whole number, at least 1.';
  else if (Number.isInteger(n) && t > n) out.t = `The threshold cannot be more than the number of mix nodes (${n}).`;
  const voters = Number(values.voters);
  if (!Number.isInteger(voters) || voters < 0) out.voters = 'The number of credentials is a whole number.';
  const width = Number(values.width);
  if (!Number.isInteger(width) || width < 1 || width > 64) out.width = 'The ballot width is a whole number from 1 to 64.';
  return out;
}

function show(field, message) {
  const input = document.getElementById(field);
  const slot = document.getElementById(`${field}-error`);
  if (slot) slot.textContent = message || '';
  if (!input) return;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

function check(fields = null) {
  const values = Object.fromEntries(['title', 'choices', 'n', 't', 'voters', 'width']
    .map((name) => [name, document.getElementById(name).value]));
  const found = problems(values);
  for (const name of Object.keys(values)) {
    if (!fields || fields.includes(name)) show(name, found[name]);
  }
  return found;
}

if (form) {
  form.addEventListener('submit', (event) => {
    const found = check();
    const first = ['title', 'choices', 'n', 't', 'voters', 'width'].find((f) => found[f]);
    if (first) {
      event.preventDefault();
      document.getElementById(first).focus();
    }
  });
  // While the admin corrects a field that shows an error, re-check it (t together with n), so the
  // message goes as soon as it is fixed. New errors appear only on submit: a message appearing
  // when a field loses focus would move the Create button from under the pointer.
  for (const name of ['title', 'choices', 'n', 't', 'voters', 'width']) {
    document.getElementById(name).addEventListener('input', () => {
      const pair = name === 'n' || name === 't' ? ['n', 't'] : [name];
      if (pair.some((f) => document.getElementById(f).getAttribute('aria-invalid') === 'true')) check(pair);
    });
  }
}
