// The Audit page: GET /v1/audit (search), /v1/audit/attempts/ID (one
// attempt's records) and /v1/audit/verify (the chain and its head). The
// server refuses all three to principals without the audit operation.
import { get, el, fmtInt } from './api.js';

const $ = (id) => document.getElementById(id);

export function initAudit() {
  $('audit-form').addEventListener('submit', (e) => { e.preventDefault(); search(); });
  $('audit-verify').addEventListener('click', verify);
}

export async function search() {
  $('audit-error').textContent = '';
  const q = new URLSearchParams();
  for (const [k, v] of new FormData($('audit-form'))) if (v) q.set(k, v);
  try {
    const res = await get('/v1/audit?' + q.toString());
    const tb = $('audit-results');
    tb.tHead.replaceChildren(el('tr', {}, ['start', 'principal', 'agency', 'purpose', 'case', 'sources', 'outcome', 'code', 'rows', 'ms', 'attempt'].map((h) => el('th', {}, h))));
    tb.tBodies[0].replaceChildren(...res.attempts.map((a) => el('tr', { 'data-attempt': a.attempt, onclick: (e) => detail(a.attempt, e.currentTarget) },
      el('td', {}, a.start.replace('T', ' ').slice(0, 19)), el('td', {}, a.principal), el('td', {}, a.agency), el('td', {}, a.purpose || ''),
      el('td', {}, a.case || ''), el('td', {}, (a.sources || []).join(', ')),
      el('td', {}, el('span', { class: 'badge ' + (a.outcome === 'succeeded' ? 'ok' : a.outcome === 'denied' ? 'bad' : 'warn') }, a.outcome)),
      el('td', {}, a.code || ''), el('td', { class: 'num' }, fmtInt(a.rows)), el('td', { class: 'num' }, a.duration_ms.toFixed(1)),
      el('td', { class: 'status' }, a.attempt.slice(0, 12)))));
    $('audit-status').textContent = `${fmtInt(res.matched)} attempts match` + (res.truncated ? `, the newest ${res.attempts.length} shown` : '');
  } catch (e) { $('audit-error').textContent = e.toString(); }
}

async function detail(id, row) {
  for (const r of $('audit-results').tBodies[0].rows) r.classList.toggle('sel', r === row);
  try {
    const d = await get('/v1/audit/attempts/' + encodeURIComponent(id));
    $('audit-detail').textContent = JSON.stringify(d, null, 2);
    $('audit-detail').hidden = false;
  } catch (e) { $('audit-error').textContent = e.toString(); }
}

export async function verify() {
  $('audit-error').textContent = '';
  const box = $('audit-chain');
  box.hidden = false;
  box.replaceChildren('verifying the chain…');
  try {
    const v = await get('/v1/audit/verify');
    box.replaceChildren(...[
      el('div', {}, el('span', { class: v.tampered ? 'tampered' : 'intact', id: 'chain-state' }, v.tampered ? 'TAMPERED' : 'intact'),
        ` · ${fmtInt(v.records)} records · last seq ${v.last_seq} · head ${v.head ? 'seq ' + v.head.seq + ' written ' + v.head.time : 'missing'}` +
        (v.head_authenticated ? ' · head authenticated with the audit key' : ' · head NOT authenticated')),
      el('div', { class: 'status' }, 'last hash ', el('code', {}, v.last_hash || '')),
      v.problems.length ? el('ul', {}, v.problems.map((p) => el('li', { class: p.warning ? 'status' : 'error' }, `${p.kind}${p.seq ? ' at ' + p.seq : ''}: ${p.message}`))) : null].filter(Boolean));
  } catch (e) { box.replaceChildren(); box.hidden = true; $('audit-error').textContent = e.toString(); }
}
