// The Query page: the editor, a run that streams the API's JSON lines into
// the grid as they arrive, cancel, downloads, a chart and the history.
import { request, el, fmtBytes, fmtInt, APIError } from './api.js';
import { highlight, Completer } from './sql.js';
import { draw } from './chart.js';

const $ = (id) => document.getElementById(id);
const MAX_SHOWN = 2000;   // rows the grid shows; downloads have them all
const MAX_KEPT = 200000;  // rows kept for downloads and the chart
export const completer = new Completer();

let columns = [], rows = [], raw = [], running = null, principal = '';

export function initQuery(me, onExplain) {
  principal = me.principal;
  const ta = $('sql'), hl = $('editor-hl');
  const sync = () => { hl.innerHTML = highlight(ta.value); hl.scrollTop = ta.scrollTop; hl.scrollLeft = ta.scrollLeft; };
  ta.addEventListener('input', () => { sync(); complete(false); });
  ta.addEventListener('scroll', sync);
  ta.addEventListener('keydown', keydown);
  ta.addEventListener('blur', () => setTimeout(hideCompletions, 150));
  sync();
  $('run').addEventListener('click', run);
  $('cancel').addEventListener('click', cancel);
  $('explain').addEventListener('click', () => onExplain(false));
  $('explain-analyze').addEventListener('click', () => onExplain(true));
  $('dl-csv').addEventListener('click', () => save(toCSV(), 'text/csv', 'result.csv'));
  $('dl-jsonl').addEventListener('click', () => save(raw.join('\n') + '\n', 'application/x-ndjson', 'result.jsonl'));
  $('dl-arrow').addEventListener('click', downloadArrow);
  $('chart-draw').addEventListener('click', drawChart);
  $('history-clear').addEventListener('click', () => { localStorage.removeItem(historyKey()); showHistory(); });
  showHistory();
}

export const sqlText = () => $('sql').value;
export function setSQL(s) { const ta = $('sql'); ta.value = s; ta.dispatchEvent(new Event('input')); hideCompletions(); }

// --- completion ---
let comp = { items: [], sel: 0, word: '' };
function keydown(e) {
  if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') { e.preventDefault(); run(); return; }
  if (e.ctrlKey && e.key === ' ') { e.preventDefault(); complete(true); return; }
  const open = !$('completions').hidden;
  if (!open) return;
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    comp.sel = (comp.sel + (e.key === 'ArrowDown' ? 1 : comp.items.length - 1)) % comp.items.length;
    renderCompletions();
  } else if (e.key === 'Tab' || e.key === 'Enter') {
    e.preventDefault(); accept(comp.items[comp.sel]);
  } else if (e.key === 'Escape') hideCompletions();
}

function complete(force) {
  const ta = $('sql');
  const { word, items } = completer.suggest(ta.value, ta.selectionStart);
  if (!items.length || (!force && !word && !ta.value.slice(0, ta.selectionStart).endsWith('.'))) { hideCompletions(); return; }
  comp = { items, sel: 0, word };
  renderCompletions();
  // Place the list under the caret: the text before it, measured in the
  // monospace font's cell size.
  const before = ta.value.slice(0, ta.selectionStart);
  const lines = before.split('\n');
  const cell = charSize();
  const list = $('completions');
  list.style.left = Math.min(8 + cell.w * lines[lines.length - 1].length - ta.scrollLeft, ta.clientWidth - 200) + 'px';
  list.style.top = (8 + cell.h * lines.length - ta.scrollTop) + 'px';
}

let cellCache = null;
function charSize() {
  if (cellCache) return cellCache;
  const probe = el('span', { class: 'probe' }, 'MMMMMMMMMM');
  $('editor-hl').append(probe);
  const r = probe.getBoundingClientRect();
  probe.remove();
  cellCache = { w: r.width / 10 || 8.4, h: r.height || 21 };
  return cellCache;
}

function renderCompletions() {
  const list = $('completions');
  list.replaceChildren(...comp.items.map((it, i) => el('li', { class: i === comp.sel ? 'sel' : null, 'data-text': it.text, onmousedown: (e) => { e.preventDefault(); accept(it); } },
    el('span', {}, it.text), el('span', { class: 'kind' }, it.kind))));
  list.hidden = false;
  const sel = list.children[comp.sel];
  if (sel) sel.scrollIntoView({ block: 'nearest' });
}
function hideCompletions() { $('completions').hidden = true; }
function accept(it) {
  const ta = $('sql');
  const pos = ta.selectionStart;
  const start = pos - comp.word.length;
  ta.value = ta.value.slice(0, start) + it.text + ta.value.slice(pos);
  ta.selectionStart = ta.selectionEnd = start + it.text.length;
  hideCompletions();
  ta.dispatchEvent(new Event('input'));
  hideCompletions();
  ta.focus();
}

// --- running ---
function setStatus(s) { $('status').textContent = s; }

async function run() {
  if (running) return;
  const sql = sqlText().trim();
  if (!sql) return;
  $('query-error').textContent = '';
  delete $('status').dataset.done;
  columns = []; rows = []; raw = [];
  $('grid').tHead.replaceChildren(); $('grid').tBodies[0].replaceChildren();
  for (const b of ['dl-csv', 'dl-jsonl', 'dl-arrow']) $(b).disabled = true;
  const ctl = new AbortController();
  const t0 = performance.now();
  let bytes = 0, shown = 0, failed = null;
  running = ctl;
  $('run').disabled = true; $('cancel').disabled = false;
  setStatus('running…');
  const tick = () => setStatus(`${fmtInt(rows.length)} rows · ${((performance.now() - t0) / 1000).toFixed(2)} s · ${fmtBytes(bytes)}${running ? ' · running…' : ''}`);
  try {
    const res = await request('POST', '/v1/query', { sql }, { raw: true, signal: ctl.signal, headers: { Accept: 'application/x-ndjson' } });
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let last = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      buf += dec.decode(value, { stream: true });
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) {
        if (!l) continue;
        const o = JSON.parse(l);
        const keys = Object.keys(o);
        if (keys.length === 1 && keys[0] === 'error' && o.error && typeof o.error === 'object') { failed = new APIError(0, o.error); continue; }
        if (!columns.length) setColumns(keys);
        if (rows.length < MAX_KEPT) { rows.push(o); raw.push(l); }
      }
      shown = appendRows(shown);
      if (performance.now() - last > 100) { tick(); last = performance.now(); }
    }
  } catch (e) {
    failed = e.name === 'AbortError' ? new APIError(0, { code: 'LT-CANCELLED', message: 'you cancelled the query' }) : e;
  }
  running = null;
  $('run').disabled = false; $('cancel').disabled = true;
  const ms = performance.now() - t0;
  tick();
  if (failed) $('query-error').textContent = failed.toString();
  if (rows.length) for (const b of ['dl-csv', 'dl-jsonl', 'dl-arrow']) $(b).disabled = false;
  $('status').dataset.rows = String(rows.length);
  $('status').dataset.done = failed ? 'error' : 'ok';
  fillChartChoices();
  remember(sql, rows.length, ms, failed);
}

function cancel() { if (running) running.abort(); }

function setColumns(keys) {
  columns = keys;
  $('grid').tHead.replaceChildren(el('tr', {}, el('th', {}, '#'), keys.map((k) => el('th', {}, k))));
}

function appendRows(from) {
  const body = $('grid').tBodies[0];
  const frag = document.createDocumentFragment();
  let i = from;
  for (; i < rows.length && i < MAX_SHOWN; i++) {
    const o = rows[i];
    frag.append(el('tr', {}, el('td', { class: 'num' }, i + 1), columns.map((c) => {
      const v = o[c];
      if (v === null || v === undefined) return el('td', { class: 'null' }, 'NULL');
      return el('td', { class: typeof v === 'number' ? 'num' : null }, typeof v === 'object' ? JSON.stringify(v) : String(v));
    })));
  }
  body.append(frag);
  return i;
}

// --- downloads ---
function csvField(v) {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
function toCSV() {
  return [columns.map(csvField).join(','), ...rows.map((o) => columns.map((c) => csvField(o[c])).join(','))].join('\r\n') + '\r\n';
}
function save(data, type, name) {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
// Arrow runs the statement again asking for an Arrow IPC stream (a second
// attempt in the audit log): the grid holds JSON values, not Arrow types.
async function downloadArrow() {
  try {
    const res = await request('POST', '/v1/query', { sql: sqlText() }, { raw: true, headers: { Accept: 'application/vnd.apache.arrow.stream' } });
    save(await res.blob(), 'application/vnd.apache.arrow.stream', 'result.arrows');
  } catch (e) { $('query-error').textContent = e.toString(); }
}

// --- chart ---
function fillChartChoices() {
  const numeric = columns.filter((c) => rows.some((r) => typeof r[c] === 'number'));
  const keys = columns.filter((c) => !numeric.includes(c)).concat(numeric);
  $('chart-key').replaceChildren(...keys.map((c) => el('option', {}, c)));
  $('chart-value').replaceChildren(...numeric.map((c) => el('option', {}, c)));
}
function drawChart() {
  const key = $('chart-key').value, val = $('chart-value').value;
  if (!key || !val) { $('query-error').textContent = 'the chart needs a result with a numeric column'; return; }
  const data = rows.slice(0, 500);
  draw($('chart'), data.map((r) => r[key] === null ? 'NULL' : r[key]), [{ name: val, values: data.map((r) => Number(r[val])) }], $('chart-type').value);
  $('chart').dataset.drawn = String(data.length);
}

// --- history: SQL text per principal in this browser (no results, no token) ---
const historyKey = () => 'lt.history.' + principal;
function remember(sql, n, ms, failed) {
  const h = JSON.parse(localStorage.getItem(historyKey()) || '[]').filter((x) => x.sql !== sql);
  h.unshift({ sql, rows: n, ms: Math.round(ms), at: new Date().toISOString(), error: failed ? (failed.code || 'error') : '' });
  localStorage.setItem(historyKey(), JSON.stringify(h.slice(0, 50)));
  showHistory();
}
function showHistory() {
  const h = JSON.parse(localStorage.getItem(historyKey()) || '[]');
  $('history').replaceChildren(...h.map((x) => el('li', { title: 'load into the editor', onclick: () => setSQL(x.sql) },
    el('span', { class: 'meta' }, `${x.at.slice(0, 19).replace('T', ' ')} · ${x.error || fmtInt(x.rows) + ' rows'} · ${x.ms} ms\n`), x.sql)));
}
