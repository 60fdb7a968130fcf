/**
 * The live view of an election: subscribes to the server's status websocket (/ws/status/<eid>,
 * served by Tornado) and renders the phase, the connected nodes, what is happening now (which node
 * is shuffling, progress), each hop's verdict (accepted / rejected / skipped) and the timings per
 * phase. Every value is inserted as text (textContent), never as HTML.
 */
const section = globalThis.document?.getElementById('live'); // node imports the pure parts

// The same words as the templates' phase badges (webui/site.py PHASE_WORDS).
export const PHASE_WORDS = {
  setup: 'Being set up',
  keygen: 'Opening soon',
  voting: 'Voting open',
  closed: 'Voting closed',
  mixing: 'Counting: shuffling the ballots',
  decrypting: 'Counting: decrypting',
  tallied: 'Results published',
};

const STAGE_WORDS = {
  waiting: 'waiting for the mix node',
  shuffling: 'shuffling and proving',
  verifying: "checking the node's proof",
  mixed: 'mixing finished',
  decrypting: 'decrypting',
  tallied: 'done',
};

const PHASE_NOTES = {
  setup: 'Voting has not opened yet.',
  keygen: 'Voting has not opened yet.',
  voting: 'Voting is open.',
  tallied: 'Voting is over and the results are published.',
};

function text(id, value) {
  const el = document.getElementById(id);
  if (el) el.textContent = value;
}

function row(cells, className, labels = []) {
  const tr = document.createElement('tr');
  if (className) tr.className = className;
  cells.forEach((cell, i) => {
    const td = document.createElement('td');
    td.textContent = cell;
    if (labels[i]) td.dataset.label = labels[i];
    tr.appendChild(td);
  });
  return tr;
}

/** Show the Vote button only while voting is open, and the results link once they exist. */
function renderVoterActions(phase) {
  const vote = document.getElementById('vote-button');
  if (vote) vote.hidden = phase !== 'voting';
  const results = document.getElementById('results-button');
  if (results) results.hidden = phase !== 'tallied';
  const note = document.getElementById('phase-note');
  if (note) {
    note.textContent = PHASE_NOTES[phase]
      || 'Voting is closed; the ballots are being counted. The results will appear on the results page.';
  }
}

export function describeProgress(p) {
  if (!p || !Object.keys(p).length) return '—';
  if (p.error) return `error: ${p.error}`;
  const parts = [];
  if (p.stage) parts.push(STAGE_WORDS[p.stage] || p.stage);
  if (p.hop && p.hops) parts.push(`hop ${p.hop} of ${p.hops}`);
  if (p.node) parts.push(`node ${p.node}`);
  if (p.done !== undefined && p.total) parts.push(`${p.done} / ${p.total}`);
  else if (p.done !== undefined) parts.push(`${p.done} done`);
  return parts.join(' · ') || JSON.stringify(p);
}

/** The page's phase badge (`#phase .phase`, if any), in the templates' words. */
export function showPhaseBadge(phase) {
  const badge = document.querySelector('#phase .phase');
  if (!badge) return;
  badge.textContent = PHASE_WORDS[phase] || phase;
  badge.className = `phase phase-${phase}`;
  badge.dataset.phase = phase;
}

export function render(status) {
  if (typeof status.phase !== 'string') return;
  text('live-phase', PHASE_WORDS[status.phase] || status.phase);
  const livePhase = document.getElementById('live-phase');
  if (livePhase) livePhase.dataset.phase = status.phase;
  renderVoterActions(status.phase);
  showPhaseBadge(status.phase);
  if (status.ballots_cast !== undefined) text('ballots-cast', String(status.ballots_cast));
  text('live-nodes', status.nodes && status.nodes.length ? status.nodes.join(', ') : 'none');
  text('live-progress', describeProgress(status.progress));

  const hops = document.querySelector('#live-hops tbody');
  if (hops && Array.isArray(status.hops)) {
    hops.replaceChildren(...(status.hops.length
      ? status.hops.map((h) => row([String(h.hop), String(h.node), h.status,
        `${h.reason || ''}${h.seconds !== undefined ? ` (${h.seconds} s)` : ''}`], `hop-${h.status}`,
      ['Hop', 'Node', 'Status', 'Detail']))
      : [row(['No hop yet.', '', '', ''])]));
  }
  const timings = document.querySelector('#live-timings tbody');
  if (timings && status.timings && typeof status.timings === 'object') {
    // durations only: rates such as mixing_ballots_per_s are not seconds (as on the results page)
    const entries = Object.entries(status.timings)
      .filter(([k, v]) => typeof v === 'number' && !k.endsWith('_per_s'));
    timings.replaceChildren(...(entries.length
      ? entries.map(([k, v]) => row([k, v.toFixed(3)]))
      : [row(['Nothing measured yet.', ''])]));
  }
}

/**
 * Follow the status websocket at `path` (reconnecting with exponential back-off, at most 10 s):
 * `render` gets each status; the element `statusId` says how the feed is doing, `live` once open
 * and `lost` when it closes. With `backoffResets`, a successful open starts the back-off afresh.
 */
export function followStatus(path, options, attempt = 0) {
  const { render: onStatus, statusId, live, lost, backoffResets = false } = options;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}${path}`);
  ws.addEventListener('open', () => {
    if (backoffResets) attempt = 0;
    text(statusId, live);
  });
  ws.addEventListener('message', (event) => {
    try {
      onStatus(JSON.parse(event.data));
    } catch (e) {
      text(statusId, `Could not read a status update: ${e.message}`);
    }
  });
  ws.addEventListener('close', () => {
    text(statusId, lost);
    setTimeout(() => followStatus(path, options, attempt + 1), Math.min(10000, 500 * 2 ** attempt));
  });
}

if (section && section.dataset.wsPath && 'WebSocket' in window) {
  followStatus(section.dataset.wsPath, {
    render,
    statusId: 'live-connection',
    live: 'Live: updates appear as they happen.',
    lost: 'Live view disconnected; reconnecting…',
  });
}
