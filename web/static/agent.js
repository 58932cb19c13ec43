// agent.js is the agent desk (docs/agent-desk.md): an agent signs in with
// their SIP credentials or an API token bound to them, sees and changes their state, and when a call is
// offered or connected sees who calls (the customer found by the caller's
// number), their open tickets and their history on every channel, then
// wraps up with a note and a category. All server access goes through
// api.js; every text from the server goes in with textContent.

import { Api, Unauthorized } from './api.js';

const api = new Api();
const $ = (id) => document.getElementById(id);

const desk = {
  me: '', // agent id of the session
  agent: null, // GET /api/v1/agents/{me}
  caller: '', // number of the caller shown
  phase: '', // 'offered' | 'connected' | 'ended'
  customer: null,
  tickets: [], // the caller's open tickets
  run: null, // AbortController of the event stream loop
  shown: 0, // bumps on each caller change: a late answer for an old caller is dropped
};

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

const when = (iso) => {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
};

function status(text, kind = '') {
  $('status').textContent = text;
  $('status').dataset.kind = kind;
}

// ---- sign-in -------------------------------------------------------------

function showSignIn(msg = '') {
  desk.run?.abort();
  $('desk').hidden = true;
  $('signout').hidden = true;
  $('me').textContent = '';
  $('signin').hidden = false;
  $('signin-error').textContent = msg;
  status('signed out');
  (byToken() ? $('token') : $('username')).focus();
}

// byToken: the form asks for an API token bound to the agent instead of
// the SIP username and password. The other kind's inputs are disabled, so
// the browser neither requires nor sends them.
const byToken = () => $('how-token').checked;

function pickHow() {
  const tok = byToken();
  $('signin-sip').hidden = tok;
  $('signin-token').hidden = !tok;
  for (const id of ['username', 'password']) $(id).disabled = tok;
  $('token').disabled = !tok;
  $('token').required = tok;
  $('signin-error').textContent = '';
}

async function onSignIn(ev) {
  ev.preventDefault();
  $('signin-error').textContent = '';
  const tok = byToken();
  try {
    if (tok) await api.signInAgent({ token: $('token').value.trim() });
    else await api.signInAgent({ username: $('username').value.trim(), password: $('password').value });
  } catch (e) {
    $('signin-error').textContent = e instanceof Unauthorized ? (tok ? 'Unknown token.' : 'Wrong username or password.') : e.message;
    return;
  }
  $('password').value = '';
  $('token').value = '';
  if (tok && (api.who || {}).scope !== 'agent') {
    // A read or write token signed this browser in, but not as an agent:
    // end that session rather than leave a supervisor's cookie here.
    await api.signOut();
    showSignIn('This token is not bound to an agent: use a token with agent: in the configuration.');
    return;
  }
  await open();
}

async function open() {
  const who = api.who || {};
  if (who.scope !== 'agent' || !who.agent) {
    // A token's session (the wallboard's, in this browser) is left alone:
    // signing in here replaces the cookie, not before.
    showSignIn('This page is for agents: sign in with your SIP username and password or your agent token.');
    return;
  }
  desk.me = who.agent;
  $('signin').hidden = true;
  $('desk').hidden = false;
  $('signout').hidden = false;
  $('me').textContent = who.agent;
  await refreshAgent();
  live();
}

// ---- state ---------------------------------------------------------------

async function refreshAgent() {
  let a;
  try {
    a = await api.get('/api/v1/agents/' + encodeURIComponent(desk.me));
  } catch (e) {
    if (e instanceof Unauthorized) { showSignIn('Signed out: sign in again.'); return; }
    $('state-error').textContent = e.message;
    return;
  }
  desk.agent = a;
  drawState();
  await followCall(a);
}

function drawState() {
  const a = desk.agent;
  $('presence').textContent = a.presence;
  $('presence').dataset.state = a.presence;
  $('activity').textContent = a.presence === 'logged_out' ? '' : a.activity;
  $('reason').textContent = a.reason ? '(' + a.reason + ')' : '';
  const out = a.presence === 'logged_out';
  $('btn-login').disabled = !out;
  $('btn-ready').disabled = out || a.presence === 'available';
  $('btn-pause').disabled = out;
  $('btn-logout').disabled = out;
}

async function setState(state) {
  $('state-error').textContent = '';
  const body = { state };
  if (state === 'pause') body.reason = $('pause-reason').value.trim();
  try {
    desk.agent = await api.post('/api/v1/agents/' + encodeURIComponent(desk.me) + '/state', body);
    drawState();
  } catch (e) {
    if (e instanceof Unauthorized) { showSignIn('Signed out: sign in again.'); return; }
    $('state-error').textContent = e.message;
  }
}

// ---- the caller ----------------------------------------------------------

// followCall shows the caller of the agent's offer or call: the offer
// carries the number; a connected call's number comes from the live calls.
async function followCall(a) {
  let number = '', phase = '';
  if (a.offer && a.offer.caller) {
    number = a.offer.caller;
    phase = 'offered';
  } else if (a.call_id) {
    phase = 'connected';
    number = desk.caller;
    if (!number) {
      const calls = await api.get('/api/v1/calls').catch(() => ({ items: [] }));
      number = (calls.items || []).find((c) => c.call_id === a.call_id)?.caller || '';
    }
  } else if (desk.caller) {
    phase = 'ended'; // keep the caller up for the wrap-up
    number = desk.caller;
  }
  const changed = phase !== desk.phase;
  desk.phase = phase;
  $('call-phase').textContent = phase ? '— ' + (phase === 'offered' ? 'ringing' : phase === 'connected' ? 'on the call' : 'call ended, wrap up') : '';
  if (number && number !== desk.caller) await showCaller(number);
  else if (changed && desk.customer) {
    // The call moved on (answered, ended and logged on a ticket): read
    // the tickets and history again, keeping what the agent typed.
    const mine = desk.shown;
    await Promise.all([loadTickets(desk.customer, mine), loadHistory(desk.customer, mine)]);
  }
}

async function showCaller(number) {
  const mine = ++desk.shown;
  desk.caller = number;
  desk.customer = null;
  $('no-call').hidden = true;
  $('caller').hidden = false;
  $('caller-number').textContent = number;
  $('caller-name').textContent = 'looking up…';
  $('caller-tier').textContent = '';
  $('caller-phones').textContent = '';
  $('caller-unknown').hidden = true;
  let c = null;
  try {
    c = await api.get('/api/v1/customers/lookup?phone=' + encodeURIComponent(number));
  } catch (e) {
    if (e instanceof Unauthorized) { showSignIn('Signed out: sign in again.'); return; }
    // 404: nobody has this number
  }
  if (mine !== desk.shown) return;
  if (!c) {
    $('caller-name').textContent = 'Unknown caller';
    $('caller-unknown').hidden = false;
    $('tickets-card').hidden = $('wrapup').hidden = $('history-card').hidden = true;
    return;
  }
  desk.customer = c;
  $('caller-name').textContent = c.name || '(no name)';
  $('caller-tier').textContent = c.tier || '';
  $('caller-tier').dataset.tier = c.tier || '';
  // Phones are E.164, the caller's number may be national: the same
  // number is the one whose digits end with the caller's (less trunk 0s).
  const tail = number.replace(/\D/g, '').replace(/^0+/, '');
  const phones = (c.phones || []).filter((p) => !tail || !p.replace(/\D/g, '').endsWith(tail));
  $('caller-phones').textContent = phones.length ? ' · also ' + phones.join(', ') : '';
  await Promise.all([loadTickets(c, mine), loadHistory(c, mine)]);
}

async function loadTickets(c, mine) {
  const page = await api.get('/api/v1/tickets?status=open&customer_id=' + c.id).catch(() => ({ items: [] }));
  if (mine !== desk.shown) return;
  const items = page.items || [];
  const ul = $('tickets'), sel = $('wrapup-ticket'), picked = sel.value;
  ul.replaceChildren(...items.map((t) => el('li', { 'data-ticket': t.id },
    el('strong', { text: '#' + t.id + ' ' + t.subject }), ' ',
    el('span', { class: 'pill', text: t.category || 'no category' }), ' ',
    el('span', { class: 'muted', text: t.priority + ' · opened ' + when(t.created_at) }))));
  if (!items.length) ul.replaceChildren(el('li', { class: 'muted', text: 'No open tickets.' }));
  sel.replaceChildren(...items.map((t) => el('option', { value: t.id, text: '#' + t.id + ' ' + t.subject })));
  desk.tickets = items;
  $('tickets-card').hidden = false;
  $('wrapup').hidden = items.length === 0;
  if (items.some((t) => String(t.id) === picked)) sel.value = picked; // the agent's choice stays
  else if (items.length) $('wrapup-category').value = items[0].category || '';
}

// A ticket picked for the wrap-up brings its category into the field.
function onPickTicket() {
  const t = (desk.tickets || []).find((x) => String(x.id) === $('wrapup-ticket').value);
  if (t) $('wrapup-category').value = t.category || '';
}

async function loadHistory(c, mine) {
  const page = await api.get('/api/v1/customers/' + c.id + '/timeline?limit=50').catch(() => ({ items: [] }));
  if (mine !== desk.shown) return;
  const items = page.items || [];
  $('history').replaceChildren(...items.map(historyItem));
  if (!items.length) $('history').replaceChildren(el('li', { class: 'muted', text: 'Nothing yet.' }));
  $('history-card').hidden = false;
}

function historyItem(i) {
  const note = detailsKind(i) === 'note';
  const li = el('li', { class: 'item', 'data-channel': i.channel, 'data-id': i.id },
    el('div', { class: 'head' },
      el('span', { class: 'pill', 'data-channel': i.channel, text: note ? 'note' : i.channel }), ' ',
      el('span', { class: 'muted', text: when(i.started_at) + (note ? '' : ' · ' + i.direction) + (i.ticket_id ? ' · ticket #' + i.ticket_id : '') })),
    el('div', { class: 'summary', text: note ? 'Note by ' + (i.details.author || 'someone') : i.summary || '' }));
  const v = i.voice;
  if (v) {
    const keys = (v.path || []).filter((s) => s.digits).map((s) => s.node + ': ' + s.digits);
    const bits = [];
    if (keys.length) bits.push('keyed ' + keys.join(', '));
    if (v.queue) bits.push('queue ' + v.queue);
    if (v.agent) bits.push('answered by ' + v.agent);
    if (v.outcome) bits.push(v.outcome.replaceAll('_', ' '));
    if (bits.length) li.append(el('div', { class: 'voice', text: bits.join(' · ') }));
  }
  if (i.body) li.append(el('div', { class: 'body', text: i.body.length > 600 ? i.body.slice(0, 600) + '…' : i.body }));
  return li;
}

function detailsKind(i) {
  return i.details && typeof i.details === 'object' ? i.details.kind : '';
}

// ---- wrap-up -------------------------------------------------------------

async function onWrapUp(ev) {
  ev.preventDefault();
  const id = $('wrapup-ticket').value, out = $('wrapup-result');
  out.textContent = '';
  const body = { category: $('wrapup-category').value.trim() };
  const note = $('wrapup-note').value.trim();
  if (note) body.note = note;
  try {
    await api.post('/api/v1/tickets/' + encodeURIComponent(id) + '/notes', body);
  } catch (e) {
    if (e instanceof Unauthorized) { showSignIn('Signed out: sign in again.'); return; }
    out.textContent = 'Not saved: ' + e.message;
    out.dataset.kind = 'error';
    return;
  }
  out.textContent = 'Saved.';
  out.dataset.kind = 'ok';
  $('wrapup-note').value = '';
  if (desk.customer) {
    const mine = desk.shown;
    await Promise.all([loadTickets(desk.customer, mine), loadHistory(desk.customer, mine)]);
  }
}

// ---- live ----------------------------------------------------------------

const sleep = (ms, signal) => new Promise((res) => {
  const t = setTimeout(res, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); res(); }, { once: true });
});

// live reads the event stream until sign-out, reconnecting with backoff;
// each event for this agent re-reads the agent (the view is the truth).
async function live() {
  desk.run?.abort();
  const run = new AbortController();
  desk.run = run;
  let attempt = 0;
  while (!run.signal.aborted) {
    try {
      await api.stream({
        types: 'agent.,call.bridged', signal: run.signal,
        onOpen: () => { attempt = 0; status('live', 'ok'); refreshAgent(); },
        onEvent: (ev) => { if (ev.agent === desk.me) refreshAgent(); },
      });
    } catch (e) {
      if (e instanceof Unauthorized) { showSignIn('Signed out: sign in again.'); return; }
    }
    if (run.signal.aborted) return;
    status('reconnecting…', 'down');
    await sleep(Math.min(10000, 500 * 2 ** attempt++), run.signal);
  }
}

// ---- start ---------------------------------------------------------------

async function start() {
  $('signin-form').addEventListener('submit', onSignIn);
  for (const id of ['how-sip', 'how-token']) $(id).addEventListener('change', pickHow);
  pickHow();
  $('wrapup-form').addEventListener('submit', onWrapUp);
  $('wrapup-ticket').addEventListener('change', onPickTicket);
  for (const id of ['btn-login', 'btn-ready', 'btn-pause', 'btn-logout']) {
    $(id).addEventListener('click', (ev) => setState(ev.currentTarget.dataset.state));
  }
  $('signout').addEventListener('click', async () => { await api.signOut(); showSignIn(); });
  let ok = false;
  try {
    ok = await api.trySession();
  } catch (e) {
    status(e.message, 'down');
  }
  if (ok) await open();
  else showSignIn();
}

start();
