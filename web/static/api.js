// api.js is the one place the wallboard and the agent desk reach the server: how it signs
// in, how it reads the API, how it reads the event stream. Everything else
// calls get() and stream().
//
// Sign-in, in order:
//   1. GET /api/v1/session (cookie only). 200: a browser session exists;
//      the cookie does the rest, and state changes would send the
//      session's CSRF token as X-CSRF-Token.
//   2. Otherwise a token kept in sessionStorage (this tab only), sent as
//      "Authorization: Bearer".
//   3. Otherwise the page asks for a token. signIn() first offers it to
//      POST /api/v1/session (a server with sessions swaps it for a
//      cookie); a server without answers non-2xx and the token is used
//      as a bearer token.
// Either way the token stays in this tab's sessionStorage: sessions live
// in the server's memory, so after a restart the board signs in again by
// itself (renew) instead of waiting for someone to type the token on the
// TV. The page runs no inline or foreign script (CSP), which is what keeps
// the stored token to this page.
//
// The stream: EventSource cannot send an Authorization header, so the
// stream is read with fetch() and a ReadableStream reader, which sends the
// bearer token and the cookie alike.

const TOKEN_KEY = 'hotline.wallboard.token';

/** The server refused the credentials: sign in again. */
export class Unauthorized extends Error {}

export class Api {
  constructor() {
    this.mode = 'none'; // 'session' | 'token' | 'none'
    this.token = sessionStorage.getItem(TOKEN_KEY) || '';
    this.csrf = '';
    this.who = null;
  }

  headers(extra = {}) {
    const h = { Accept: 'application/json', ...extra };
    if (this.mode === 'token' && this.token) h.Authorization = 'Bearer ' + this.token;
    if (this.mode === 'session' && this.csrf) h['X-CSRF-Token'] = this.csrf;
    return h;
  }

  /** start finds existing credentials; false: the page must ask for a token. */
  async start() {
    if (await this.trySession()) return true;
    if (await this.renew()) return true;
    if (this.token) {
      this.mode = 'token';
      try {
        await this.get('/api/v1/queues');
        return true;
      } catch (e) {
        if (!(e instanceof Unauthorized)) throw e; // server down: keep the token, let the caller retry
        this.forget();
      }
    }
    this.mode = 'none';
    return false;
  }

  async trySession() {
    let r;
    try {
      r = await fetch('/api/v1/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    } catch (e) {
      throw new Error('server unreachable: ' + e.message);
    }
    if (!r.ok) return false; // 401/404: no session (or no session API yet)
    const s = await r.json().catch(() => ({}));
    this.mode = 'session';
    this.csrf = s.csrf_token || '';
    this.who = s;
    return true;
  }

  /** signIn with a token; throws Unauthorized for a wrong one. */
  async signIn(token) {
    token = token.trim();
    const r = await fetch('/api/v1/session', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token }),
    }).catch(() => null);
    if (r && r.ok && (await this.trySession())) {
      this.token = token; // kept to renew the session after a server restart
      sessionStorage.setItem(TOKEN_KEY, token);
      return;
    }
    this.mode = 'token';
    this.token = token;
    try {
      await this.get('/api/v1/queues');
    } catch (e) {
      this.forget();
      this.mode = 'none';
      throw e;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  /**
   * signInAgent opens an agent session (the agent desk) with creds:
   * {username, password} (the agent's SIP account) or {token} (an API
   * token bound to the agent). Nothing is kept in the tab: after a server
   * restart the agent signs in again. Throws Unauthorized for wrong ones;
   * this.who then says whom the session acts as.
   */
  async signInAgent(creds) {
    let r;
    try {
      r = await fetch('/api/v1/session', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(creds),
      });
    } catch (e) {
      throw new Error('server unreachable: ' + e.message);
    }
    if (r.status === 401) throw new Unauthorized(creds.token ? 'unknown token' : 'wrong username or password');
    if (!r.ok) throw new Error(await problem(r));
    if (!(await this.trySession())) throw new Error('signed in, but the session was not kept (cookies blocked?)');
  }

  /** post sends a JSON change (with the session's CSRF token) and returns the answer's JSON. */
  async post(path, body) {
    const r = await fetch(path, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: this.headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(body),
    });
    if (r.status === 401) throw new Unauthorized('signed out: sign in again');
    if (!r.ok) throw new Error(await problem(r));
    return r.status === 204 ? null : r.json();
  }

  async signOut() {
    if (this.mode === 'session') {
      await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin', headers: this.headers() }).catch(() => {});
    }
    this.forget();
    this.mode = 'none';
  }

  /** renew swaps the stored token for a new session (after a restart); false when it cannot. */
  async renew() {
    if (!this.token) return false;
    const r = await fetch('/api/v1/session', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token: this.token }),
    }).catch(() => null);
    return !!(r && r.ok && (await this.trySession()));
  }

  forget() {
    this.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
  }

  /** get returns the JSON of an API path; Unauthorized on 401. */
  async get(path, signal, renewed = false) {
    const r = await fetch(path, { credentials: 'same-origin', headers: this.headers(), signal, cache: 'no-store' });
    if (r.status === 401) {
      if (!renewed && this.mode === 'session' && (await this.renew())) return this.get(path, signal, true);
      throw new Unauthorized('the server refused the token');
    }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }

  /**
   * stream reads GET /api/v1/events until it ends (resolves), fails
   * (rejects) or signal aborts. onOpen runs once the server answered 200;
   * onEvent gets each event's JSON. idleMs: with no byte (event or
   * heartbeat) for this long the connection is taken for dead and ended.
   */
  async stream({ types = '', signal, onOpen, onEvent, idleMs = 40000 }) {
    const ctl = new AbortController();
    const abort = () => ctl.abort();
    if (signal) signal.addEventListener('abort', abort, { once: true });
    let idle = setTimeout(abort, idleMs);
    const touch = () => { clearTimeout(idle); idle = setTimeout(abort, idleMs); };
    try {
      const url = '/api/v1/events' + (types ? '?types=' + encodeURIComponent(types) : '');
      const r = await fetch(url, { credentials: 'same-origin', headers: this.headers({ Accept: 'text/event-stream' }), signal: ctl.signal, cache: 'no-store' });
      if (r.status === 401) {
        // A session the server forgot (a restart): a new one, then the
        // caller reconnects as after any drop.
        if (this.mode === 'session' && (await this.renew())) throw new Error('event stream: session renewed');
        throw new Unauthorized('the server refused the token');
      }
      if (!r.ok || !r.body) throw new Error('event stream: HTTP ' + r.status);
      touch();
      onOpen?.();
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        touch();
        buf += value;
        let end;
        while ((end = messageEnd(buf)) >= 0) {
          const msg = buf.slice(0, end);
          buf = buf.slice(end).replace(/^(\r\n|\r|\n){2}/, '');
          const data = dataOf(msg);
          if (data !== null) {
            let ev;
            try { ev = JSON.parse(data); } catch { continue; }
            onEvent?.(ev);
          }
        }
      }
    } finally {
      clearTimeout(idle);
      if (signal) signal.removeEventListener('abort', abort);
      ctl.abort();
    }
  }
}

// problem is the message of an API error answer, or its status.
async function problem(r) {
  const b = await r.json().catch(() => null);
  return (b && b.error && b.error.message) || `HTTP ${r.status}`;
}

// messageEnd is the index where the first complete SSE message in buf
// ends (before its blank line), or -1.
function messageEnd(buf) {
  const m = /(\r\n|\r|\n)(\r\n|\r|\n)/.exec(buf);
  return m ? m.index : -1;
}

// dataOf joins a message's data: lines (SSE: several are joined with
// newlines); null for a comment or a message without data.
function dataOf(msg) {
  const out = [];
  for (const line of msg.split(/\r\n|\r|\n/)) {
    if (line.startsWith('data:')) out.push(line.slice(5).replace(/^ /, ''));
  }
  return out.length ? out.join('\n') : null;
}
