// board.js draws the wallboard from the API's queue and agent views and
// keeps it live from the event stream (docs/wallboard.md). All server
// access goes through api.js. Nothing here computes a figure the API
// gives; the few it derives (abandon rate, the ticking wait, time in
// state) are defined in docs/metrics.md "On the wallboard", whose texts
// formulas.json carries (a Go test keeps the two the same).

import { Api, Unauthorized } from './api.js';

const api = new Api();
const $ = (id) => document.getElementById(id);

const state = {
  formulas: {},
  queues: new Map(), // name -> { view, at: performance.now() when received }
  agents: [], // GET /api/v1/agents items
  live: false,
  downSince: null, // epoch ms the stream went down; null while live
  run: null, // AbortController of the running session
};

// ---- measuring ---------------------------------------------------------

// With ?perf in the address the board times its own work in the page
// (window.boardPerf, read by the browser test of 100 agents and 200
// callers, app/wallboard_load_browser_test.go): each event's handler, each
// re-render after a read, each second's tick, in ms, and the browser's
// long tasks. A timed re-render or tick ends by reading the layout, so its
// figure includes the style and layout work it caused (the browser would
// do that work before the next frame anyway; reading it here only moves
// it into the measured span). Off: no cost.
const perf = new URLSearchParams(location.search).has('perf')
  ? (window.boardPerf = { handler: [], update: [], tick: [], longtask: [] }) : null;
if (perf && PerformanceObserver.supportedEntryTypes?.includes('longtask')) {
  new PerformanceObserver((l) => { for (const e of l.getEntries()) perf.longtask.push(e.duration); })
    .observe({ type: 'longtask' });
}

function timed(kind, f) {
  if (!perf) return f();
  const t0 = performance.now();
  try { return f(); } finally {
    if (kind !== 'handler') void document.body.offsetHeight; // style + layout now, inside the span
    perf[kind].push(performance.now() - t0);
  }
}

// ---- formatting --------------------------------------------------------

function clock(s) {
  if (s == null || !isFinite(s)) return '–';
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(sec).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
const secs = (s) => (s == null || !isFinite(s) ? '–' : s < 100 ? `${Math.round(s)} s` : clock(s));
const pct = (f) => (f == null || !isFinite(f) ? '–' : `${Math.floor(f * 100 + 1e-9)} %`);
const plain = (md) => (md || '').replaceAll('`', '');

function windowLabel(name) {
  if (name === 'today') return 'today';
  const m = /^(\d+)([mh])$/.exec(name || '');
  return m ? `last ${m[1]} ${m[2] === 'm' ? 'min' : 'h'}` : name;
}

// ---- DOM helpers -------------------------------------------------------

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

// label is a figure's name with its formula one hover (title) or one tap
// (the popover) away.
function label(text, key) {
  const f = state.formulas[key];
  const e = el('span', { class: 'f', 'data-f': key, text });
  if (f) decorate(e, key);
  return e;
}

function decorate(e, key) {
  const f = state.formulas[key];
  if (!f) return;
  e.title = plain(f);
  e.tabIndex = 0;
  e.setAttribute('role', 'button');
  e.setAttribute('aria-describedby', 'formula');
}

function showFormula(target) {
  const key = target.dataset.f, f = state.formulas[key];
  if (!f) return;
  $('formula-name').textContent = target.textContent;
  $('formula-text').textContent = plain(f);
  const box = $('formula');
  box.hidden = false;
  const r = target.getBoundingClientRect();
  const left = Math.min(window.scrollX + r.left, window.scrollX + document.documentElement.clientWidth - box.offsetWidth - 8);
  box.style.left = `${Math.max(8, left)}px`;
  box.style.top = `${window.scrollY + r.bottom + 6}px`;
}

document.addEventListener('click', (ev) => {
  const t = ev.target.closest?.('.f[data-f]');
  if (t) showFormula(t);
  else if (!ev.target.closest?.('#formula')) $('formula').hidden = true;
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') $('formula').hidden = true;
  const t = ev.target.closest?.('.f[data-f]');
  if (t && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); showFormula(t); }
});

// ---- agents ------------------------------------------------------------

const STATES = [
  ['available', 'Available'], ['ringing', 'Ringing'], ['on_call', 'On call'], ['wrap_up', 'Wrap-up'],
  ['reserved', 'Reserved'], ['paused', 'Paused'], ['logged_out', 'Logged out'],
];
const STATE_NAME = Object.fromEntries(STATES);

// agentState: docs/metrics.md "agent state".
function agentState(a) {
  if (a.presence === 'logged_out') return 'logged_out';
  if (a.activity && a.activity !== 'idle') return a.activity;
  return a.presence === 'paused' ? 'paused' : 'available';
}

// sinceOf: docs/metrics.md "time in state" (epoch ms, or null).
function sinceOf(a) {
  const t = a.state_since ? Date.parse(a.state_since) : NaN;
  return isFinite(t) ? t : null;
}

function membersOf(queue) {
  return state.agents.filter((a) => a.queues && Object.hasOwn(a.queues, queue));
}

// ---- tiles -------------------------------------------------------------

const LEVEL_RANK = { amber: 1, red: 2 };

function tileFor(name) {
  let t = document.querySelector(`.tile[data-queue="${CSS.escape(name)}"]`);
  if (!t) {
    t = el('article', { class: 'tile', 'data-queue': name, 'aria-label': `Queue ${name}` });
    $('board').append(t);
  }
  return t;
}

function render(name) {
  const q = state.queues.get(name);
  if (!q) return;
  const v = q.view, t = tileFor(name);
  const alerts = v.alerts || [];
  const worst = alerts.reduce((w, a) => Math.max(w, LEVEL_RANK[a.level] || 0), 0);
  t.classList.toggle('amber', worst === 1);
  t.classList.toggle('red', worst === 2);
  t.dataset.level = worst === 2 ? 'red' : worst === 1 ? 'amber' : 'ok';

  const head = el('header', { class: 'tile-head' }, el('h2', { text: v.name }));
  const alertList = el('ul', { class: 'alerts' });
  for (const a of alerts) {
    const li = el('li', { class: `alert ${a.level}`, 'data-kind': a.kind },
      el('span', { class: 'level', text: a.level === 'red' ? '● RED' : '● AMBER' }), ' ', label(a.detail, 'alert_' + a.kind));
    alertList.append(li);
  }
  head.append(alertList);

  // Now: the three big numbers.
  const waiting = v.waiting || 0;
  // data-at (when the figure was read, for the tick) is set on the live
  // element after reconciling, so a new read alone does not count as a
  // change of the section.
  const wait = el('div', { class: 'num big', 'data-k': 'longest_wait',
    'data-wait': waiting > 0 ? String(v.longest_wait_s || 0) : '' },
    waiting > 0 ? clock(v.longest_wait_s) : '–');
  const thr = v.alert_thresholds || {};
  const now = el('div', { class: 'now' },
    el('div', { class: 'cell' }, label('Waiting', 'waiting'), el('div', { class: 'num huge', 'data-k': 'waiting', text: String(waiting) })),
    el('div', { class: 'cell' }, label('Longest wait', 'longest_wait_ticking'), wait,
      thr.longest_wait_s ? el('div', { class: 'hint', text: `alert at ${secs(thr.longest_wait_s)}` }) : null),
    el('div', { class: 'cell' }, label('EWT now', 'ewt_s'), el('div', { class: 'num big', 'data-k': 'ewt', text: v.ewt_s == null ? '–' : clock(v.ewt_s) })));

  // Agents by state.
  const members = membersOf(name);
  const counts = Object.fromEntries(STATES.map(([k]) => [k, 0]));
  const reasons = new Map();
  for (const a of members) {
    const k = agentState(a);
    counts[k]++;
    if (k === 'paused') reasons.set(a.reason || 'paused', (reasons.get(a.reason || 'paused') || 0) + 1);
  }
  const chips = el('ul', { class: 'chips' });
  for (const [k, n] of STATES) {
    chips.append(el('li', { class: `chip s-${k}${counts[k] ? '' : ' zero'}`, 'data-state': k },
      el('span', { class: 'chip-n', text: String(counts[k]) }), label(n, 'agent_state')));
  }
  const agentsBox = el('div', { class: 'agents-box' }, el('h3', {}, label('Agents', 'agents_by_presence')), chips);
  if (reasons.size) {
    agentsBox.append(el('p', { class: 'reasons', text: 'Paused: ' + [...reasons].map(([r, n]) => (n > 1 ? `${r} ×${n}` : r)).join(', ') }));
  }

  // Windowed figures: one column per window.
  const ws = v.windows || [];
  const T = v.service_level_threshold_s;
  const rows = [
    ['Offered', 'joined', (w) => String(w.joined)],
    ['Answered', 'answered', (w) => String(w.answered)],
    ['Abandoned', 'abandoned', (w) => String(w.abandoned)],
    ['Abandon rate', 'abandon_rate', (w) => (w.joined ? pct(w.abandoned / w.joined) : '–')],
    [`Service level (≤ ${secs(T)})`, 'service_level', (w) => pct(w.service_level)],
    ['ASA', 'asa_s', (w) => (w.answered ? secs(w.asa_s) : '–')],
    ['AHT', 'aht_s', (w) => (w.handled ? secs(w.aht_s) : '–')],
  ];
  const table = el('table', { class: 'figures' });
  const hr = el('tr', {}, el('th', {}));
  for (const w of ws) hr.append(el('th', { scope: 'col' }, label(windowLabel(w.name), w.name === 'today' ? 'window_today' : 'window_30m')));
  table.append(el('thead', {}, hr));
  const body = el('tbody');
  for (const [name_, key, f] of rows) {
    const tr = el('tr', { 'data-row': key }, el('th', { scope: 'row' }, label(name_, key)));
    for (const w of ws) tr.append(el('td', { 'data-w': w.name, text: f(w) }));
    body.append(tr);
  }
  table.append(body);
  const target = thr.service_level ? el('p', { class: 'hint', text: `service level target ${pct(thr.service_level)}` }) : null;

  // Callbacks.
  const cb = v.callbacks || {};
  const cbs = el('dl', { class: 'callbacks' });
  for (const [k, n] of [['scheduled', 'Scheduled'], ['waiting', 'Waiting'], ['dialling', 'Dialling'],
    ['completed', 'Completed today'], ['failed', 'Failed today'], ['expired', 'Expired today']]) {
    cbs.append(el('div', { 'data-cb': k }, el('dt', {}, label(n, 'callbacks')), el('dd', { text: String(cb[k] ?? 0) })));
  }

  reconcile(t, [head, now, agentsBox, table, target ?? document.createTextNode(''),
    el('h3', {}, label('Callbacks', 'callbacks')), cbs]);
  const live = t.querySelector('[data-k="longest_wait"]');
  if (live) live.dataset.at = String(q.at);
  t.classList.toggle('stale', !state.live || document.body.classList.contains('view-stale')); // a render keeps a stale view's grey
}

// reconcile makes parent's children equal to kids, replacing only the
// children that differ (isEqualNode: same tags, attributes and text). A
// board of 100 agents and 200 callers re-read after every event would
// otherwise rebuild every tile and row, and the browser restyle and lay
// out all of it, when one figure changed (docs/benchmarks.md, "The
// wallboard in the browser").
function reconcile(parent, kids) {
  const old = [...parent.childNodes];
  if (old.length !== kids.length) { parent.replaceChildren(...kids); return; }
  for (let i = 0; i < kids.length; i++) {
    if (!old[i].isEqualNode(kids[i])) old[i].replaceWith(kids[i]);
  }
}

// agentRows caches each agent's row with the data it shows, so a re-read of
// 100 agents after one agent's change builds one row, not 100.
const agentRows = new Map(); // agent id -> { key, tr }

function renderAgents() {
  const rows = $('agent-rows');
  const out = [], ids = new Set();
  for (const a of state.agents) {
    const k = agentState(a);
    const since = sinceOf(a);
    const caller = a.caller || a.offer?.caller || '';
    const queues = Object.keys(a.queues || {}).sort().join(', ');
    const key = JSON.stringify([a.name || a.id, k, a.reason, since, a.calls_today ?? 0, caller, queues]);
    ids.add(a.id);
    let r = agentRows.get(a.id);
    if (!r || r.key !== key) {
      r = { key, tr: el('tr', { 'data-agent': a.id, 'data-state': k },
        el('td', { text: a.name || a.id }),
        el('td', {}, el('span', { class: `chip s-${k}`, text: STATE_NAME[k] + (k === 'paused' && a.reason ? ` (${a.reason})` : '') })),
        el('td', { class: 'num-s', 'data-since': since == null ? '' : String(since), text: since == null ? '–' : clock((Date.now() - since) / 1000) }),
        el('td', { class: 'num-s', 'data-k': 'calls_today', text: String(a.calls_today ?? 0) }),
        el('td', { text: caller }),
        el('td', { text: queues })) };
      agentRows.set(a.id, r);
    }
    out.push(r.tr);
  }
  for (const id of agentRows.keys()) if (!ids.has(id)) agentRows.delete(id);
  // The common case, the same agents in the same order with a few rows
  // rebuilt: swap those rows in place. Otherwise (agents added, removed,
  // reordered) set the rows in order; unchanged ones move, not rebuilt.
  const cur = rows.children;
  if (cur.length === out.length && out.every((tr, i) => cur[i] === tr || !tr.isConnected)) {
    for (let i = 0; i < out.length; i++) if (cur[i] !== out[i]) cur[i].replaceWith(out[i]);
  } else rows.replaceChildren(...out);
  $('agents').hidden = state.agents.length === 0;
}

// ---- the second hand ---------------------------------------------------

function tick() {
  const now = performance.now();
  for (const e of document.querySelectorAll('[data-k="longest_wait"]')) {
    if (e.dataset.wait === '') continue;
    e.textContent = clock(Number(e.dataset.wait) + (now - Number(e.dataset.at)) / 1000);
  }
  for (const e of document.querySelectorAll('[data-since]')) {
    if (e.dataset.since !== '') e.textContent = clock((Date.now() - Number(e.dataset.since)) / 1000);
  }
  if (state.view && state.live && state.view.age + (now - state.view.at) > state.view.max) {
    schedule('all', fetchAll); // is the view that old? (showViewAge decides on the answer)
  }
  if (state.downSince != null) {
    $('stale-ago').textContent = `${Math.floor((Date.now() - state.downSince) / 1000)} s ago`;
  }
  $('clock').textContent = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// ---- fetching ----------------------------------------------------------

// Reads land in state at once; drawing waits for the next animation frame,
// so the reads of one burst (a queue and the agents after an answer) are
// drawn together, once. A hidden page gets no frames: the timer draws
// then, at most 250 ms late.
const dirty = { queues: new Set(), agents: false, frame: 0, timer: 0 };

function invalidate(queues, agents) {
  for (const q of queues) dirty.queues.add(q);
  dirty.agents ||= agents;
  if (dirty.frame) return;
  dirty.frame = requestAnimationFrame(draw);
  dirty.timer = setTimeout(draw, 250);
}

function draw() {
  cancelAnimationFrame(dirty.frame);
  clearTimeout(dirty.timer);
  dirty.frame = dirty.timer = 0;
  const queues = [...dirty.queues].sort(), agents = dirty.agents;
  dirty.queues.clear();
  dirty.agents = false;
  timed('update', () => {
    if (agents) renderAgents();
    for (const name of queues) render(name);
  });
}

async function fetchQueue(name) {
  const v = await api.get('/api/v1/queues/' + encodeURIComponent(name), state.run?.signal);
  noteViewAge(v.view_age_ms, v.view_max_age_ms);
  state.queues.set(name, { view: v, at: performance.now() });
  invalidate([name], false);
}

async function fetchAgents() {
  const r = await api.get('/api/v1/agents', state.run?.signal);
  state.agents = r.items || [];
  invalidate(state.queues.keys(), true); // members' states are on the tiles
}

async function fetchAll() {
  const [qs] = await Promise.all([api.get('/api/v1/queues', state.run?.signal), fetchAgents()]);
  showQueues(qs);
}

// In a cluster the queues are the leader's view as this node last read it
// (view_age_ms, docs/wallboard.md): older than the node's
// cluster.view_max_age (view_max_age_ms, the bound past which the node is
// not ready either), the board says "stale" as when its stream is down.
// An idle cluster announces no new view (queue.view), so tick re-reads the
// queues once the last age read, plus the time since, passes the bound:
// only a view really that old marks the board stale.
const VIEW_MAX_AGE_MS = 5000; // cluster.view_max_age's default, for a server that does not say

function noteViewAge(ms, maxMs) {
  if (typeof ms !== 'number') return; // one node: live reads
  state.view = { age: ms, max: typeof maxMs === 'number' && maxMs > 0 ? maxMs : VIEW_MAX_AGE_MS, at: performance.now() };
  showViewAge();
}

function showViewAge() {
  if (!state.view || !state.live) return;
  const body = document.body.classList;
  if (state.view.age > state.view.max) {
    body.add('view-stale');
    setStatus(`stale: cluster view ${Math.round(state.view.age / 1000)} s old`, 'down');
    for (const t of document.querySelectorAll('.tile')) t.classList.add('stale');
  } else if (body.contains('view-stale')) {
    body.remove('view-stale');
    markLive();
  }
}

function showQueues(qs) {
  noteViewAge(qs.view_age_ms, qs.view_max_age_ms);
  const names = new Set();
  const at = performance.now();
  for (const v of qs.items || []) {
    names.add(v.name);
    state.queues.set(v.name, { view: v, at });
  }
  for (const n of [...state.queues.keys()]) {
    if (!names.has(n)) {
      state.queues.delete(n);
      document.querySelector(`.tile[data-queue="${CSS.escape(n)}"]`)?.remove();
    }
  }
  invalidate(names, false);
  draw(); // the first picture, and catching up after a reconnect, at once
  $('board').hidden = false;
}

// Throttled re-fetches: at most one per key every 250 ms, the last
// request always followed by a fetch (so a burst ends on fresh data).
const GAP = 250;
const pending = new Map(); // key -> { last, timer, busy, again }

function schedule(key, run) {
  let p = pending.get(key);
  if (!p) pending.set(key, (p = { last: 0, timer: null, busy: false, again: false }));
  if (p.busy) { p.again = true; return; }
  if (p.timer) return;
  const wait = Math.max(0, p.last + GAP - performance.now());
  p.timer = setTimeout(async () => {
    p.timer = null;
    p.busy = true;
    p.last = performance.now();
    try { await run(); } catch (e) { failed(e); }
    p.busy = false;
    if (p.again) { p.again = false; schedule(key, run); }
  }, wait);
}

function refreshQueue(name) {
  if (state.queues.has(name)) schedule('q:' + name, () => fetchQueue(name));
  else schedule('all', fetchAll); // a queue this board has not seen: read them all
}

function onEvent(ev) {
  const type = ev.type || '';
  if (type === 'queue.view') { // a cluster node has the leader's new view (docs/cluster.md)
    schedule('all', fetchAll);
    return;
  }
  if (type.startsWith('agent.')) {
    schedule('agents', fetchAgents);
    const a = state.agents.find((x) => x.id === ev.agent);
    const qs = ev.queue ? [ev.queue] : a ? Object.keys(a.queues || {}) : [...state.queues.keys()];
    for (const q of qs) refreshQueue(q);
    return;
  }
  if (type.startsWith('queue.') || type.startsWith('callback.')) {
    if (ev.queue) refreshQueue(ev.queue);
    else for (const q of state.queues.keys()) refreshQueue(q);
  }
}

// ---- connection --------------------------------------------------------

function setStatus(text, cls) {
  const s = $('status');
  s.textContent = text;
  s.className = 'status ' + (cls || '');
}

function markLive() {
  state.live = true;
  state.downSince = null;
  $('stale').hidden = true;
  document.body.classList.remove('is-stale');
  setStatus('live', 'ok');
  for (const t of document.querySelectorAll('.tile')) t.classList.remove('stale');
}

function markDown() {
  if (state.downSince == null) state.downSince = Date.now();
  state.live = false;
  $('stale').hidden = false;
  document.body.classList.add('is-stale');
  setStatus('reconnecting…', 'down');
  for (const t of document.querySelectorAll('.tile')) t.classList.add('stale');
  tick();
}

function failed(e) {
  if (e instanceof Unauthorized) { signInAgain(e.message); return; }
  if (e?.name === 'AbortError') return;
  console.warn('wallboard:', e);
}

const sleep = (ms, signal) => new Promise((res) => {
  const t = setTimeout(res, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); res(); }, { once: true });
});

// backoff: 0.5 s doubling to 10 s, with up to 30 % jitter so boards that
// lost the same server do not all come back in the same millisecond.
const backoff = (n) => Math.min(10000, 500 * 2 ** n) * (1 + Math.random() * 0.3);

// catchUp re-reads everything once the stream is open again (whatever
// happened while it was down), then shows the board live. A server that
// is still starting may refuse at first: a few tries, a second apart.
async function catchUp(run) {
  for (let i = 0; i < 10 && !run.signal.aborted; i++) {
    try {
      await fetchAll();
      markLive();
      return;
    } catch (e) {
      if (e instanceof Unauthorized) { failed(e); return; }
      await sleep(1000, run.signal);
    }
  }
}

async function live(run) {
  let attempt = 0;
  while (!run.signal.aborted) {
    try {
      await api.stream({
        types: 'queue.,agent.,callback.', signal: run.signal, onEvent: (ev) => timed('handler', () => onEvent(ev)),
        onOpen: () => {
          attempt = 0;
          catchUp(run);
        },
      });
    } catch (e) {
      if (e instanceof Unauthorized) { signInAgain(e.message); return; }
    }
    if (run.signal.aborted) return;
    markDown();
    await sleep(backoff(attempt++), run.signal);
  }
}

// ---- sign-in -----------------------------------------------------------

function showSignIn(message) {
  $('signin').hidden = false;
  $('board').hidden = true;
  $('agents').hidden = true;
  $('signout').hidden = true;
  $('signin-error').textContent = message || '';
  setStatus('signed out', '');
  $('token').focus();
}

function signInAgain(message) {
  state.run?.abort();
  state.run = null;
  api.forget();
  showSignIn(message);
}

function startBoard() {
  $('signin').hidden = true;
  $('signout').hidden = false;
  state.run?.abort();
  state.run = new AbortController();
  setStatus('connecting…', '');
  fetchAll().catch(failed);
  live(state.run);
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('signin-error').textContent = '';
  try {
    await api.signIn($('token').value);
    $('token').value = '';
    startBoard();
  } catch (e) {
    $('signin-error').textContent = e instanceof Unauthorized ? 'That token is not accepted.' : 'Could not reach the server: ' + e.message;
  }
});

$('signout').addEventListener('click', async () => {
  state.run?.abort();
  await api.signOut();
  showSignIn('');
});

// ---- theme -------------------------------------------------------------

const THEMES = ['auto', 'dark', 'light'];
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  $('theme-name').textContent = t;
}
$('theme').addEventListener('click', () => {
  const cur = localStorage.getItem('hotline.theme') || 'auto';
  const next = THEMES[(THEMES.indexOf(cur) + 1) % THEMES.length];
  localStorage.setItem('hotline.theme', next);
  applyTheme(next);
});
applyTheme(localStorage.getItem('hotline.theme') || 'auto');

// ---- start -------------------------------------------------------------

async function main() {
  setInterval(() => timed('tick', tick), 1000);
  tick();
  try {
    state.formulas = await (await fetch('/wallboard/formulas.json', { cache: 'no-cache' })).json();
  } catch { /* labels without formulas still work */ }
  for (const e of document.querySelectorAll('.f[data-f]')) decorate(e, e.dataset.f);
  for (;;) {
    try {
      if (await api.start()) startBoard();
      else showSignIn('');
      return;
    } catch (e) {
      setStatus('server unreachable, retrying…', 'down');
      await sleep(3000);
    }
  }
}
main();
