/**
 * The voting booth: sign in → choose → check → seal (encrypt in this browser, mixvote-crypto.js
 * on @noble/curves) → cast or audit (Benaloh, "Simple verifiable elections", EVT 2006).
 *
 * Signing in happens only here: the printed credential is parsed (its check value catches a
 * typo), the Ed25519 key is derived from it and kept in this page's memory only (never sent, never
 * in a cookie or in storage; signing out or reloading forgets it). A cast ballot is signed with it
 * over (election fingerprint, ciphertext row, proof); the server gets the *public* credential and
 * the signature, and answers with its signed receipt, which the receipt download includes.
 *
 * The sealed ballot's tracker is the hex SHA-256 of its ciphertext bytes: shown as soon as the
 * ballot is sealed, and the same value the receipt page and the bulletin board show (webui/site.py).
 * Only the ciphertext and its proof are sent; the plaintext and the randomness never leave the
 * page, except that an audited ballot's randomness is shown to the voter and that ballot is
 * thrown away. After a cast, the time and the tracker are kept in this browser's localStorage
 * (keyed by election and voter id) so that a later visit, or the back button, says so.
 * Every value is inserted as text (textContent), never as HTML.
 */
import {
  auditBallot, credentialFromPrivate, fromHex, makeBallot, parseCredential, signBallot, toHex,
} from './mixvote-crypto.js';
import { sha256 } from '@noble/hashes/sha2.js';

// (Guarded so that node can import the pure functions for the unit tests.)
const $ = (id) => globalThis.document?.getElementById(id) ?? null;
const params = JSON.parse($('election-params')?.textContent || 'null');
const form = $('ballot-form');
const sections = ['ballot-form', 'review', 'sealed', 'audit-result', 'cast-result'];
let current = null; // {wire, randomness, choice, tracker}: the one ballot that may be cast or audited
let chosen = null;
let voter = null; // {private (hex seed), public (hex), voterId}: in memory only

export const STORAGE_PREFIX = 'mixvote:vote:';

export function storageKey(electionId, voterId) {
  return `${STORAGE_PREFIX}${electionId}:${voterId}`;
}

/** The voter-facing tracker of a ballot: hex SHA-256 of its ciphertext bytes. */
export function ballotTracker(wire) {
  return toHex(sha256(fromHex(wire.ciphertext)));
}

/** A developer's error message, as the voter should read it. */
export function voterMessage(raw, status) {
  const text = String(raw || '');
  if (status === 401 || /sign in|credential: missing/i.test(text)) {
    return 'You are signed out (perhaps you signed out in another tab). Your sealed ballot is kept: sign in again, then press "Cast this ballot" again.';
  }
  if (/voter signature/i.test(text)) return 'The server could not check your signature on this ballot. Sign out, sign in again with your credential, and seal a fresh ballot.';
  if (/not a voter credential|not among the registered|not in the credential list/i.test(text)) return 'This credential does not belong to this election. Check that you used the credential you were given for this election.';
  if (/voting is not open|not allowed in phase/i.test(text)) return 'Voting is closed: this ballot was not cast.';
  if (/replay/i.test(text)) return 'This exact ballot was already cast. Seal a fresh ballot to vote again.';
  if (/already voted|first ballot counts/i.test(text)) return 'You have already voted in this election, and it counts your first ballot: this one was not cast.';
  if (/proof|challenge/i.test(text)) return 'The server could not check this ballot. Start again with a fresh ballot; if it happens again, use another browser.';
  if (/CSRF/i.test(text)) return 'This page has expired. Reload it (your choice is not lost: choose again) and try once more.';
  if (/Failed to fetch|NetworkError|network/i.test(text) || status === 0) return 'The server could not be reached. Check your connection and press "Cast this ballot" again: your sealed ballot is kept.';
  return 'The ballot was not cast: something went wrong on the server. Try again in a moment.';
}

function say(message) {
  const live = $('booth-live');
  if (live) live.textContent = message;
}

function showError(message, action = null) {
  const box = $('booth-error');
  $('booth-error-text').textContent = message || '';
  const slot = $('booth-error-action');
  slot.replaceChildren();
  if (action) {
    slot.appendChild(action);
    slot.hidden = false;
  } else {
    slot.hidden = true;
  }
  box.hidden = !message;
}

function show(id, focusId) {
  for (const s of sections) {
    const el = $(s);
    if (el) el.hidden = s !== id;
  }
  const step = { 'ballot-form': 'choose', review: 'review', sealed: 'sealed', 'audit-result': 'sealed', 'cast-result': 'done' }[id];
  for (const li of document.querySelectorAll('#steps li')) {
    if (li.dataset.step === step) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  }
  const target = $(focusId);
  if (target) target.focus();
}

function selectedChoice() {
  const checked = form.querySelector('input[name="choice"]:checked');
  return checked ? Number(checked.value) : null;
}

function choiceName(i) {
  return params.choices[i] ?? `choice ${i}`;
}

function loadVote() {
  try {
    const raw = localStorage.getItem(storageKey(params.electionId, params.voterId));
    const got = raw ? JSON.parse(raw) : null;
    return got && typeof got.tracker === 'string' && typeof got.at === 'string' ? got : null;
  } catch {
    return null;
  }
}

function saveVote(vote) {
  try {
    localStorage.setItem(storageKey(params.electionId, params.voterId), JSON.stringify(vote));
  } catch {
    // storage full or disabled: the voter still has the receipt on screen
  }
}

function hhmm(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

function findUrl(tracker) {
  return `${form.dataset.findUrl}?tracker=${encodeURIComponent(tracker)}`;
}

function firstCounts() {
  return form.dataset.policy === 'first-ballot-counts';
}

/** A return visit (or the back button): say that this voter has voted, and what a new ballot does. */
function showPreviousVote() {
  const vote = loadVote();
  const box = $('previous-vote');
  if (!vote) {
    box.hidden = true;
    return;
  }
  $('previous-tracker').textContent = vote.tracker;
  $('previous-board-link').href = findUrl(vote.tracker);
  if (firstCounts()) {
    $('previous-vote-text').textContent = `You voted at ${hhmm(vote.at)}. This election counts your first ballot, so you cannot vote again.`;
    form.hidden = true;
    for (const s of sections) $(s).hidden = true;
    $('steps').hidden = true;
  } else {
    $('previous-vote-text').textContent = `You voted at ${hhmm(vote.at)}. You may vote again: a new ballot replaces the one you cast.`;
  }
  box.hidden = false;
}

function resetToChoose() {
  current = null;
  showError('');
  show('ballot-form', null);
  form.querySelector('input[name="choice"]')?.focus();
  say('Choose again.');
}

form?.addEventListener('submit', (event) => {
  event.preventDefault();
  showError('');
  const choice = selectedChoice();
  const err = $('choose-error');
  if (choice === null) {
    err.textContent = 'Choose one option first.';
    form.querySelector('input[name="choice"]')?.focus();
    return;
  }
  err.textContent = '';
  chosen = choice;
  $('review-choice').textContent = choiceName(choice);
  show('review', 'review-title');
});

form?.addEventListener('change', () => {
  $('choose-error').textContent = '';
});

$('change')?.addEventListener('click', () => {
  show('ballot-form', null);
  form.querySelector('input[name="choice"]:checked')?.focus();
});

$('encrypt')?.addEventListener('click', () => {
  showError('');
  try {
    const t0 = performance.now();
    const ballot = makeBallot(params, chosen);
    current = { ...ballot, choice: chosen, tracker: ballotTracker(ballot.wire) };
    $('sealed-tracker').textContent = current.tracker;
    $('sealed').dataset.ms = String(Math.round(performance.now() - t0));
    show('sealed', 'sealed-title');
  } catch (e) {
    showError(`Your ballot could not be sealed in this browser (${e.message}). Try another browser.`);
  }
});

function downloadHref(obj) {
  return `data:application/json;charset=utf-8,${encodeURIComponent(JSON.stringify(obj, null, 2))}`;
}

$('audit')?.addEventListener('click', () => {
  if (!current) return;
  const audited = current;
  current = null;
  const report = auditBallot(params, audited.wire, audited.randomness);
  const matches = report.ok && report.choice === audited.choice;
  $('audit-choice').textContent = report.choice === null ? 'nothing readable' : choiceName(report.choice);
  const verdict = $('audit-verdict');
  verdict.textContent = matches
    ? 'Your ballot was sealed correctly: it held exactly what you chose.'
    : 'WARNING: this ballot does not hold what you chose. Do not vote on this device; tell the election organiser.';
  verdict.className = matches ? 'verdict-ok' : 'verdict-bad';
  $('audit-result').dataset.ok = String(matches);
  $('audit-checks').replaceChildren(...report.checks.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.ok ? '✓' : '✗'} ${c.what}`;
    li.className = c.ok ? 'ok' : 'bad';
    return li;
  }));
  const auditDoc = {
    kind: 'mixvote-audited-ballot',
    version: 1,
    election: params.electionId,
    group: params.group,
    voter_id: params.voterId,
    tracker: audited.tracker,
    ballot: audited.wire,
    randomness: audited.randomness,
  };
  const json = JSON.stringify(auditDoc, null, 2);
  $('audit-json').textContent = json;
  $('audit-download').href = downloadHref(auditDoc);
  $('audit-copy').onclick = async () => {
    try {
      await navigator.clipboard.writeText(json);
      say('The audit is copied.');
      $('audit-copy').textContent = 'Copied';
    } catch {
      say('Copying is not allowed here: use Download, or select the text under "What was checked".');
    }
  };
  show('audit-result', 'audit-title');
});

$('again')?.addEventListener('click', resetToChoose);
$('vote-again')?.addEventListener('click', resetToChoose);
$('receipt-print')?.addEventListener('click', () => window.print());

/** The ballot as the server takes it: the public credential and the voter's signature added. */
export function signedBallot(wire, credential, fingerprintHex) {
  const signature = signBallot(credential.private, fingerprintHex, fromHex(wire.ciphertext), fromHex(wire.proof));
  return {
    credential: credential.public,
    width: wire.width,
    ciphertext: wire.ciphertext,
    proof: wire.proof,
    signature: toHex(signature),
  };
}

$('sign-in')?.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('credential');
  const err = $('credential-error');
  try {
    const privateHex = parseCredential(input.value);
    voter = { private: privateHex, ...credentialFromPrivate(privateHex) };
  } catch (e) {
    err.textContent = /check value/.test(e.message)
      ? 'This credential has a typing mistake: check each group of four against your card.'
      : 'This does not look like a voter credential: type the 56 letters and digits printed on your card.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  input.value = '';
  input.removeAttribute('aria-invalid');
  err.textContent = '';
  params.voterId = voter.voterId;
  $('voter-id').textContent = voter.voterId;
  $('sign-in').hidden = true;
  $('signed-in').hidden = false;
  $('steps').hidden = false;
  show('ballot-form', null);
  showPreviousVote();
  form.querySelector('input[name="choice"]')?.focus();
  say('Signed in.');
});

$('sign-out')?.addEventListener('click', () => {
  voter = null;
  globalThis.location.reload();
});

$('cast')?.addEventListener('click', async () => {
  if (!current || !voter) return;
  const castButton = $('cast');
  castButton.disabled = true;
  $('audit').disabled = true;
  showError('');
  say('Casting your ballot…');
  let status = 0;
  try {
    const response = await fetch(params.castUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': form.dataset.csrf },
      body: JSON.stringify(signedBallot(current.wire, voter, params.fingerprint)),
    });
    status = response.status;
    const body = await response.json().catch(() => ({}));
    if (!response.ok || typeof body.tracker !== 'string') throw new Error(body.error || `the server answered ${response.status}`);
    const cast = current;
    current = null;
    const at = new Date().toISOString();
    const receipt = {
      kind: 'mixvote-receipt',
      election: params.electionId,
      voter_id: params.voterId,
      tracker: cast.tracker,
      board_entry: body.index,
      entry_hash: body.tracker,
      cast_at: at,
      fingerprint: params.fingerprint,
      server_receipt: body.receipt,
    };
    saveVote({ tracker: cast.tracker, entryHash: body.tracker, index: body.index, at });
    $('tracker').textContent = cast.tracker;
    $('cast-when').textContent = `Your ballot was cast at ${hhmm(at)}.`;
    $('entry-index').textContent = String(body.index);
    $('entry-hash').textContent = body.tracker;
    $('receipt-link').href = body.receipt_url;
    $('board-link').href = findUrl(cast.tracker);
    $('receipt-download').href = downloadHref(receipt);
    $('receipt-download').download = `receipt-${params.electionId}.json`;
    $('cast-policy').textContent = firstCounts()
      ? 'This election counts your first ballot: it is final.'
      : 'You may vote again until voting closes: a new ballot replaces this one.';
    $('vote-again').hidden = firstCounts();
    $('previous-vote').hidden = true;
    for (const input of form.querySelectorAll('input[name="choice"]')) input.checked = false;
    show('cast-result', 'cast-title');
    say('You have voted.');
  } catch (e) {
    const message = voterMessage(e.message, status);
    showError(message);
    say(message);
    $('booth-error').focus?.();
  } finally {
    castButton.disabled = false;
    $('audit').disabled = false;
  }
});

// The Continue button is rendered disabled: it works only once this module (and the crypto) loaded.
if (form && params) {
  $('continue').disabled = false;
  $('sign-in-button').disabled = false;
  $('booth-error').tabIndex = -1;
  // The back button may restore this page from the cache: re-read what this browser remembers.
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && voter) showPreviousVote();
  });
}
