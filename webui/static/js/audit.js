/**
 * The audit page: checks an audited ballot (the JSON the booth offers after a Benaloh challenge:
 * the ballot, its voter id and the encryption randomness) against this election's public key,
 * which this page received from the server on its own, not from the booth or the pasted text.
 * Runs in its own page code, so the check can be made on another device than the one that
 * encrypted. Everything pasted is validated before use and shown as text only.
 */
import { auditBallot, toHex, fromHex } from './mixvote-crypto.js';
import { sha256 } from '@noble/hashes/sha2.js';

// (Guarded so that node can import parseAudit for the unit tests.)
const $ = (id) => globalThis.document?.getElementById(id) ?? null;
const params = JSON.parse($('audit-params')?.textContent || 'null');
const form = $('audit-form');
const HEX = /^(?:[0-9a-f]{2})*$/i;
const DECIMAL = /^[0-9]{1,100}$/;
const MAX_INPUT = 1 << 20;

/** Parse and validate the pasted audit; returns it or throws an Error with a voter's sentence. */
export function parseAudit(text, election) {
  if (text.length > MAX_INPUT) throw new Error('This text is too long to be an audit.');
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('This is not an audit: paste the whole text the booth gave you, from { to }.');
  }
  if (!doc || typeof doc !== 'object' || doc.kind !== 'mixvote-audited-ballot') {
    throw new Error('This is not an audit from a mixvote booth.');
  }
  if (doc.election !== election.electionId) {
    throw new Error(`This audit is for another election (${String(doc.election).slice(0, 40)}), not this one.`);
  }
  const b = doc.ballot;
  const ok = b && typeof b === 'object'
    && typeof b.ciphertext === 'string' && HEX.test(b.ciphertext) && b.ciphertext.length <= 1 << 16
    && typeof b.proof === 'string' && HEX.test(b.proof) && b.proof.length <= 1 << 16
    && Number.isInteger(b.width) && b.width === election.width
    && typeof doc.voter_id === 'string' && HEX.test(doc.voter_id) && doc.voter_id.length <= 128
    && Array.isArray(doc.randomness) && doc.randomness.length === b.width
    && doc.randomness.every((r) => typeof r === 'string' && DECIMAL.test(r));
  if (!ok) throw new Error('This audit is damaged: some of its parts are missing or malformed.');
  return doc;
}

function outcome(text, good) {
  const p = $('audit-outcome-text');
  p.textContent = text;
  p.className = good ? 'verdict-ok' : 'verdict-bad';
  $('audit-outcome').dataset.ok = String(good);
  $('audit-outcome').hidden = false;
  $('audit-outcome-title').focus();
}

function check(event) {
  event.preventDefault();
  const err = $('audit-input-error');
  const input = $('audit-input');
  err.textContent = '';
  input.removeAttribute('aria-invalid');
  let doc;
  try {
    doc = parseAudit(input.value.trim(), params);
  } catch (e) {
    err.textContent = e.message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    $('audit-outcome').hidden = true;
    return;
  }
  const report = auditBallot({ ...params, voterId: doc.voter_id }, doc.ballot, doc.randomness);
  $('audit-maths').replaceChildren(...report.checks.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.ok ? '✓' : '✗'} ${c.what}`;
    li.className = c.ok ? 'ok' : 'bad';
    return li;
  }));
  const tracker = toHex(sha256(fromHex(doc.ballot.ciphertext)));
  $('audit-tracker').textContent = tracker;
  $('audit-tracker-line').hidden = false;
  const name = report.choice === null ? null : (params.choices[report.choice] ?? `choice ${report.choice}`);
  if (report.ok && name !== null) {
    $('audit-outcome').dataset.choice = name;
    outcome(`This ballot encrypts the choice “${name}” under this election's key. Every check passed.`, true);
  } else if (name !== null) {
    outcome(`This ballot seems to hold “${name}”, but a check FAILED (see the details). Do not trust the device that made it.`, false);
  } else {
    outcome('This ballot does not open to any choice with this randomness: a check FAILED. Do not trust the device that made it.', false);
  }
}

$('audit-file')?.addEventListener('change', async (event) => {
  const file = event.target.files?.[0];
  if (!file) return;
  if (file.size > MAX_INPUT) {
    $('audit-input-error').textContent = 'This file is too large to be an audit.';
    return;
  }
  $('audit-input').value = await file.text();
});

if (form && params) {
  form.addEventListener('submit', check);
  $('audit-check').disabled = false;
}
