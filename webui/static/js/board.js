/**
 * The bulletin board page: copy buttons for the shortened hashes, and the voter's own ballot
 * highlighted (the trackers this browser remembers from the booth, in localStorage, keyed by
 * election and voter id; nothing is sent anywhere).
 */
const STORAGE_PREFIX = 'mixvote:vote:';
const board = document.getElementById('board');
const electionPath = location.pathname.match(/^\/elections\/([A-Za-z0-9_-]{1,64})\/board/);

function remembered(eid) {
  const out = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(`${STORAGE_PREFIX}${eid}:`)) continue;
      const vote = JSON.parse(localStorage.getItem(key) || 'null');
      if (vote && typeof vote.tracker === 'string') out.push(vote);
    }
  } catch {
    // storage disabled: nothing to highlight
  }
  return out;
}

function highlightMine(eid) {
  const votes = remembered(eid);
  if (!votes.length || !board) return;
  const wanted = new Set(votes.flatMap((v) => [v.tracker, v.entryHash].filter(Boolean)));
  let mine = 0;
  for (const tr of board.querySelectorAll('tbody tr')) {
    if (wanted.has(tr.dataset.tracker) || wanted.has(tr.dataset.hash)) {
      tr.classList.add('mine');
      const label = tr.querySelector('.mine-label');
      if (label) label.hidden = false;
      mine += 1;
    }
  }
  const note = document.getElementById('my-ballot-note');
  if (note) {
    note.textContent = mine
      ? 'Your ballot is highlighted below (this browser remembers its tracker).'
      : 'This browser remembers a ballot you cast in this election; it is on another page of the board (use Find with your tracker).';
    note.hidden = false;
  }
}

document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-copy]');
  if (!button) return;
  const status = document.getElementById('copy-status');
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = 'Copied';
    if (status) status.textContent = 'Copied.';
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  } catch {
    if (status) status.textContent = 'Copying is not allowed here; the full value is in the tooltip.';
  }
});

if (electionPath) highlightMine(electionPath[1]);
