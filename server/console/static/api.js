// The console calls the same HTTP API as every client. It never holds the
// token: after login the session cookie (HttpOnly) authenticates, and the
// CSRF token below, kept in this module's memory only, goes with every
// request that changes anything. Purpose and case are per tab
// (sessionStorage) and go in the API's own headers.
let csrf = '';
export function setCSRF(t) { csrf = t || ''; }

export function session() {
  return { purpose: sessionStorage.getItem('lt.purpose') || '', caseId: sessionStorage.getItem('lt.case') || '' };
}
export function setSession(purpose, caseId) {
  sessionStorage.setItem('lt.purpose', purpose || '');
  sessionStorage.setItem('lt.case', caseId || '');
}

function headers(extra) {
  const h = new Headers(extra || {});
  const s = session();
  // Header values are ASCII: other text goes percent-encoded (docs/server.md).
  if (s.purpose) h.set('X-Lienthong-Purpose', encodeURIComponent(s.purpose));
  if (s.caseId) h.set('X-Lienthong-Case', encodeURIComponent(s.caseId));
  if (csrf) h.set('X-Lienthong-CSRF', csrf);
  return h;
}

export class APIError extends Error {
  constructor(status, data) {
    super((data && data.message) || ('HTTP ' + status));
    this.status = status;
    this.code = data && data.code;
    this.line = data && data.line;
    this.column = data && data.column;
  }
  toString() {
    let s = (this.code ? this.code + ': ' : '') + this.message;
    if (this.line) s += ` (line ${this.line}, column ${this.column})`;
    return s;
  }
}

// request sends a request and returns the Response (raw) or its JSON.
export async function request(method, path, body, opt = {}) {
  const init = { method, headers: headers(opt.headers), credentials: 'same-origin', signal: opt.signal, cache: 'no-store' };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers.set('Content-Type', 'application/json');
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    throw new APIError(res.status, data);
  }
  if (opt.raw) return res;
  if (res.status === 204) return null;
  const ct = res.headers.get('Content-Type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

export const get = (path, opt) => request('GET', path, undefined, opt);
export const post = (path, body, opt) => request('POST', path, body, opt);

// el builds an element: el('td', {class: 'num'}, 'text', child...).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function fmtBytes(n) {
  if (n < 1024) return n + ' B';
  const u = ['KiB', 'MiB', 'GiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + ' ' + u[i];
}
export const fmtInt = (n) => Number(n).toLocaleString('en-US');
