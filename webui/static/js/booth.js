/**
 * The voting booth: encrypts the voter's choice in the browser (mixvote-crypto.js on
 * @noble/curves), offers cast-or-audit (Benaloh, "Simple verifiable elections", EVT 2006), and
 * casts only the ciphertext and its proof. The plaintext and the randomness never leave the page,
 * except that an audited ballot's randomness is shown to the voter and the ballot thrown away.
 */
import { auditBallot, makeBallot, toHex, fromHex } from './mixvote-crypto.js';
import { sha256 } from '@noble/hashes/sha2.js';

const params = JSON.parse(document.getElementById('election-params')?.textContent || 'null');
const form = document.getElementById('ballot-form');
const sealed = document.getElementById('sealed');
const auditBox = document.getElementById('audit-result');
const castBox = document.getElementById('cast-result');
const errorBox = document.getElementById('booth-error');
let current = null; // {wire, randomness, choice}: the one ballot that may be cast or audited

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function fingerprint(wire) {
  return toHex(sha256(fromHex(wire.ciphertext))).slice(0, 32);
}

function selectedChoice() {
  const checked = form.querySelector('input[name="choice"]:checked');
  return checked ? Number(checked.value) : null;
}

function discard() {
  current = null;
  sealed.hidden = true;
  form.querySelector('#encrypt').disabled = false;
}

form?.addEventListener('submit', (event) => {
  event.preventDefault();
  showError('');
  const choice = selectedChoice();
  if (choice === null) {
    showError('Choose an option first.');
    form.querySelector('input[name="choice"]')?.focus();
    return;
  }
  try {
    const t0 = performance.now();
    const ballot = makeBallot(params, choice);
    current = { ...ballot, choice };
    document.getElementById('fingerprint').textContent = fingerprint(ballot.wire);
    sealed.dataset.ms = String(Math.round(performance.now() - t0));
    sealed.hidden = false;
    form.querySelector('#encrypt').disabled = true;
    document.getElementById('cast').focus();
  } catch (e) {
    showError(`Encryption failed: ${e.message}`);
  }
});

// The button is rendered disabled: it works only once this module (and the crypto) has loaded.
if (form && params) form.querySelector('#encrypt').disabled = false;

form?.addEventListener('change', () => {
  // A new choice invalidates a sealed ballot: it must be re-encrypted.
  if (current) discard();
});

document.getElementById('audit')?.addEventListener('click', () => {
  if (!current) return;
  const audited = current;
  discard();
  const report = auditBallot(params, audited.wire, audited.randomness);
  const label = report.choice === null ? 'nothing readable' : (params.choices[report.choice] ?? `choice ${report.choice}`);
  document.getElementById('audit-choice').textContent = label;
  document.getElementById('audit-verdict').textContent = report.ok
    ? (report.choice === audited.choice ? 'matches what you chose; every check passed.' : 'DOES NOT match what you chose!')
    : 'a check FAILED: do not trust this device.';
  auditBox.dataset.ok = String(report.ok && report.choice === audited.choice);
  const list = document.getElementById('audit-checks');
  list.replaceChildren(...report.checks.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.ok ? '✓' : '✗'} ${c.what}`;
    li.className = c.ok ? 'ok' : 'bad';
    return li;
  }));
  document.getElementById('audit-randomness').textContent = audited.randomness.join('\n');
  document.getElementById('audit-ciphertext').textContent = audited.wire.ciphertext;
  auditBox.hidden = false;
  castBox.hidden = true;
  auditBox.focus?.();
});

document.getElementById('cast')?.addEventListener('click', async () => {
  if (!current) return;
  const castButton = document.getElementById('cast');
  castButton.disabled = true;
  showError('');
  try {
    const response = await fetch(params.castUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': form.dataset.csrf },
      body: JSON.stringify(current.wire),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
    discard();
    document.getElementById('tracker').textContent = body.tracker;
    document.getElementById('receipt-link').href = body.receipt_url;
    document.getElementById('board-link').href = `${params.boardUrl}?receipt=${encodeURIComponent(body.tracker)}`;
    castBox.hidden = false;
    auditBox.hidden = true;
  } catch (e) {
    showError(`The ballot was not cast: ${e.message}`);
  } finally {
    castButton.disabled = false;
  }
});
