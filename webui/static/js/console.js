/**
 * The admin console of one election, live over the public status websocket (/ws/status/<eid>):
 * nodes online, key generation and "key ready", ballots cast, each mix hop (finished hops with
 * their verdict and time, the running one with its rows and a running clock), decryption shares.
 * Each action button is enabled only in the phase where its action can happen (the server
 * checks again), and Close, Start mixing and Publish ask for confirmation first.
 * Every value is inserted as text (textContent), never as HTML.
 */
import { PHASE_WORDS, followStatus, showPhaseBadge } from './status.js';

// (Guarded so that node can import the pure functions for the unit tests.)
const $ = (id) => globalThis.document?.getElementById(id) ?? null;
const params = JSON.parse($('console-params')?.textContent || 'null');
const section = $('console');

const ACTION_PHASES = { open: ['keygen'], close: ['voting'], mix: ['closed'], publish: ['mixing', 'decrypting'] };
const AFTER_KEYGEN = ['voting', 'closed', 'mixing', 'decrypting', 'tallied'];

let stageKey = '';
let stageSince = Date.now();
let lastStatus = null;
let rowsTotal = null; // the ballot count of the mix, remembered from the running hops

function text(id, value) {
  const el = $(id);
  if (el) el.textContent = value;
}

function cell(tr, value, label) {
  const td = document.createElement('td');
  td.textContent = value;
  td.dataset.label = label;
  tr.appendChild(td);
}

/** Whether the election key exists, from what the feed carries (its keygen timing appears with it). */
export function keyReady(status) {
  if (AFTER_KEYGEN.includes(status.phase)) return true;
  return Boolean(status.timings && typeof status.timings.keygen === 'number');
}

/** Which action buttons may be pressed in this status. */
export function allowedActions(status) {
  const out = new Set();
  for (const [action, phases] of Object.entries(ACTION_PHASES)) {
    if (phases.includes(status.phase) && (action !== 'open' || keyReady(status))) out.add(action);
  }
  return out;
}

function seconds(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function renderNodes(status) {
  const online = new Set(Array.isArray(status.nodes) ? status.nodes : []);
  text('console-nodes-online', String(online.size));
  for (const tr of document.querySelectorAll('#nodes tbody tr')) {
    const on = online.has(Number(tr.dataset.position));
    tr.querySelector('.dot')?.classList.toggle('on', on);
    const label = tr.querySelector('.node-connected-text');
    if (label) label.textContent = on ? 'yes' : 'no';
  }
}

function renderKey(status) {
  const ready = keyReady(status);
  const key = $('console-key');
  if (!key) return;
  key.dataset.ready = String(ready);
  if (ready) {
    key.textContent = 'Key ready';
    text('console-key-note', status.phase === 'keygen' ? 'Key generation finished: voting can open.' : 'The election key exists.');
  } else if (status.phase === 'keygen') {
    key.textContent = 'Generating…';
    text('console-key-note', 'The mix nodes are generating the key together.');
  } else {
    key.textContent = 'Not yet';
    text('console-key-note', `Key generation starts when all ${params.n} nodes are online.`);
  }
}

function renderHops(status) {
  const body = document.querySelector('#console-hops tbody');
  if (!body) return;
  const p = status.progress || {};
  if (typeof p.total === 'number' && status.phase === 'mixing') rowsTotal = p.total;
  const rows = [];
  for (const h of Array.isArray(status.hops) ? status.hops : []) {
    const tr = document.createElement('tr');
    tr.className = `hop-${h.status}`;
    cell(tr, String(h.hop), 'Hop');
    cell(tr, `node ${h.node}`, 'Node');
    cell(tr, h.reason && h.status !== 'accepted' ? `${h.status}: ${h.reason}` : String(h.status), 'Status');
    cell(tr, h.status === 'accepted' && rowsTotal !== null ? `${rowsTotal} / ${rowsTotal}` : '—', 'Rows');
    cell(tr, h.seconds !== undefined ? `${Number(h.seconds).toFixed(1)} s` : '—', 'Time');
    rows.push(tr);
  }
  const running = status.phase === 'mixing' && p.hop && !p.error && p.stage !== 'mixed';
  if (running && !rows.some((tr) => tr.firstChild.textContent === String(p.hop))) {
    const tr = document.createElement('tr');
    tr.className = 'hop-running';
    tr.id = 'console-hop-running';
    cell(tr, `${p.hop} of ${p.hops ?? '?'}`, 'Hop');
    cell(tr, `node ${p.node}`, 'Node');
    cell(tr, p.stage === 'verifying' ? 'server checking the proof' : (p.stage || 'running'), 'Status');
    cell(tr, p.total !== undefined ? `${p.done ?? 0} / ${p.total}` : '—', 'Rows');
    const clock = document.createElement('td');
    clock.dataset.label = 'Time';
    clock.className = 'running-clock';
    clock.textContent = seconds(Date.now() - stageSince);
    tr.appendChild(clock);
    rows.push(tr);
  }
  if (!rows.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 5;
    td.textContent = status.phase === 'mixing' ? 'Starting…' : 'Mixing has not started.';
    tr.appendChild(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function renderNow(status) {
  const p = status.progress || {};
  let now = PHASE_WORDS[status.phase] || status.phase;
  if (p.error) now = `Problem: ${p.error}`;
  else if (status.phase === 'keygen' && keyReady(status)) now = 'Key ready: open voting when you are ready.';
  else if (status.phase === 'mixing' && p.stage === 'mixed') now = 'Mixing finished: ready to decrypt and publish.';
  else if (status.phase === 'mixing' && p.hop) now = `Mixing: hop ${p.hop} of ${p.hops ?? '?'} (node ${p.node}, ${p.stage || 'running'})`;
  else if (status.phase === 'decrypting') now = `Decrypting: ${p.done ?? 0} of ${params.t} shares needed`;
  text('console-now', now);
  if (status.phase === 'decrypting') text('console-decrypt', `${p.done ?? 0} of ${params.t} valid decryption shares received.`);
  else if (status.phase === 'tallied') text('console-decrypt', 'Done: the result is published.');
}

function renderButtons(status) {
  const allowed = allowedActions(status);
  for (const action of Object.keys(ACTION_PHASES)) {
    const button = $(`action-${action}`);
    if (!button) continue;
    button.disabled = !allowed.has(action);
    if (button.disabled) button.setAttribute('aria-disabled', 'true');
    else button.removeAttribute('aria-disabled');
  }
  const test = $('test-ballots');
  if (test) test.hidden = status.phase !== 'voting';
  const enrol = $('enrol-setup');
  if (enrol && status.phase !== 'setup') {
    enrol.hidden = true;
    $('enrol-closed').hidden = false;
  }
}

export function render(status) {
  if (!status || typeof status.phase !== 'string') return;
  const p = status.progress || {};
  const key = `${status.phase}|${p.hop ?? ''}|${p.stage ?? ''}`;
  if (key !== stageKey) {
    stageKey = key;
    stageSince = Date.now();
  }
  lastStatus = status;
  showPhaseBadge(status.phase);
  if (status.ballots_cast !== undefined) text('console-ballots', String(status.ballots_cast));
  renderNodes(status);
  renderKey(status);
  renderHops(status);
  renderNow(status);
  renderButtons(status);
  tick();
}

/** The clock of the running stage moves every second, even when the feed is quiet. */
function tick() {
  if (!lastStatus) return;
  const busy = ['keygen', 'mixing', 'decrypting'].includes(lastStatus.phase) && !keyReadyIdle(lastStatus);
  text('console-elapsed', busy ? `for ${seconds(Date.now() - stageSince)}` : '');
  const clock = document.querySelector('#console-hop-running .running-clock');
  if (clock) clock.textContent = seconds(Date.now() - stageSince);
}

function keyReadyIdle(status) {
  return (status.phase === 'keygen' && keyReady(status)) || (status.phase === 'mixing' && status.progress?.stage === 'mixed');
}

/** Forms marked data-confirm ask first, in a modal dialog. */
function installConfirmations() {
  const dialog = $('confirm-dialog');
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (form.dataset.confirmed === 'yes' || !dialog?.showModal) return;
      event.preventDefault();
      const trigger = form.querySelector('button[type="submit"]');
      text('confirm-text', form.dataset.confirm);
      text('confirm-yes', `Yes: ${trigger?.textContent.trim().toLowerCase() || 'go ahead'}`);
      dialog.returnValue = '';
      dialog.onclose = () => {
        if (dialog.returnValue === 'yes') {
          form.dataset.confirmed = 'yes';
          form.requestSubmit();
        } else {
          trigger?.focus();
        }
      };
      dialog.showModal();
    });
  }
}

/** Client-side field checks on the enrolment form (the server checks again). */
function installEnrolChecks() {
  const form = $('enrol-form');
  if (!form) return;
  form.addEventListener('submit', (event) => {
    const key = $('public_key');
    const pos = $('position');
    const keyErr = key.value.trim() && !/^[0-9a-fA-F]{128}$/.test(key.value.trim())
      ? 'A node identity is 128 hexadecimal characters: what `mixnode pubkey` prints.' : '';
    const n = Number(pos.value);
    const posErr = pos.value.trim() && !(Number.isInteger(n) && n >= 1 && n <= params.n)
      ? `A position from 1 to ${params.n}.` : '';
    for (const [input, message] of [[key, keyErr], [pos, posErr]]) {
      text(`${input.id}-error`, message);
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    if (keyErr || posErr) {
      event.preventDefault();
      (keyErr ? key : pos).focus();
    }
  });
}

globalThis.document?.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-copy]');
  if (!button) return;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Select and copy';
  }
});

if (section && params && 'WebSocket' in window) {
  installConfirmations();
  installEnrolChecks();
  followStatus(section.dataset.wsPath, {
    render,
    statusId: 'console-connection',
    live: 'Live: this page updates by itself.',
    lost: 'Live feed disconnected; reconnecting…',
    backoffResets: true,
  });
  setInterval(tick, 1000);
}
