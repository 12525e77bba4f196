// The Plan page: POST /v1/explain, its text read into a tree: the residual
// DuckDB runs at the root, each remote (its source, the exact SQL it
// received and, under ANALYZE, rows, bytes, time and reductions) below.
import { post, el, fmtBytes, fmtInt } from './api.js';

const $ = (id) => document.getElementById(id);

// parse splits the plan text into header lines and sections: an
// unindented line ending in ':' opens a section, indented lines belong to it.
export function parse(text) {
  const head = [], sections = [];
  let cur = null;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (/^\S.*:$/.test(line) && !line.startsWith('Output:') && !line.startsWith('Rules:')) {
      cur = { title: line.slice(0, -1), lines: [] };
      sections.push(cur);
    } else if (cur && (/^\s/.test(line) || cur.profile)) {
      cur.lines.push(line.replace(/^ {2}/, ''));
    } else {
      head.push(line);
      cur = null;
    }
    if (cur && cur.title.startsWith('Residual operators')) cur.profile = true;
  }
  const plan = { head, residual: null, remotes: [], profile: '', whole: null };
  for (const s of sections) {
    let m;
    if (s.profile) plan.profile = s.lines.join('\n');
    else if ((m = /^Remote (\d+) -> (\S+) \(([^)]*)\)(?: as (\S+))?/.exec(s.title))) {
      const r = { id: m[1], source: m[2], dialect: m[3], view: m[4] || '', sql: [], notes: [], stats: null };
      for (const l of s.lines) {
        // Under a policy, counts other than rows may be elided ("…").
        const st = /^read (\S+) rows, (\S+) bytes in (\S+) batch(?:es)?, (\S+) ms(?:; scan reduced by (\S+) keys)?/.exec(l);
        if (st) r.stats = { rows: st[1], bytes: st[2], batches: st[3], ms: st[4], keys: st[5] || null };
        else if (/^(reduced|partitioned|split|keys|reduction)/.test(l)) r.notes.push(l);
        else if (r.stats) r.notes.push(l);
        else r.sql.push(l);
      }
      plan.remotes.push(r);
    } else if (s.title.startsWith('Residual')) plan.residual = { title: s.title, sql: s.lines };
    else plan.whole = { title: s.title, sql: s.lines };
  }
  return plan;
}

const num = (v, f) => (/^\d+$/.test(v) ? f(+v) : v);

function remoteNode(r) {
  const stats = r.stats ? el('div', { class: 'stats' },
    `${num(r.stats.rows, fmtInt)} rows · ${num(r.stats.bytes, fmtBytes)} · ${r.stats.batches} batches · ${r.stats.ms} ms` + (r.stats.keys !== null ? ` · reduced by ${num(r.stats.keys, fmtInt)} keys` : '')) : null;
  return el('div', { class: 'node remote', 'data-source': r.source },
    el('h3', {}, el('span', { class: 'badge' }, 'remote ' + r.id), r.source, ' ', el('span', { class: 'status' }, `(${r.dialect})`)),
    el('pre', {}, r.sql.join('\n')),
    r.notes.map((n) => el('div', { class: 'stats' }, n)), stats);
}

export function render(text) {
  const p = parse(text);
  $('plan-text').textContent = text;
  $('plan-head').replaceChildren(...p.head.map((l) => el('div', { class: 'status' }, l)));
  let root;
  if (p.residual) {
    root = el('ul', {}, el('li', {}, el('div', { class: 'node residual' }, el('h3', {}, p.residual.title), el('pre', {}, p.residual.sql.join('\n'))),
      el('ul', {}, p.remotes.map((r) => el('li', {}, remoteNode(r))))));
  } else if (p.whole) {
    root = el('ul', {}, el('li', {}, el('div', { class: 'node remote' }, el('h3', {}, p.whole.title), el('pre', {}, p.whole.sql.join('\n')))),
      p.remotes.map((r) => el('li', {}, remoteNode(r))));
  } else {
    root = el('ul', {}, p.remotes.map((r) => el('li', {}, remoteNode(r))));
  }
  $('plan-tree').replaceChildren(root);
  $('plan-profile').textContent = p.profile;
  $('plan-profile-box').hidden = !p.profile;
}

export async function explain(sql, analyze) {
  $('plan-error').textContent = '';
  $('plan-status').textContent = analyze ? 'running the query to measure it…' : 'planning…';
  $('plan-tree').replaceChildren();
  try {
    const t0 = performance.now();
    const res = await post('/v1/explain', { sql, analyze });
    render(res.plan);
    $('plan-status').textContent = `${analyze ? 'EXPLAIN ANALYZE' : 'EXPLAIN'} in ${Math.round(performance.now() - t0)} ms`;
  } catch (e) {
    $('plan-status').textContent = '';
    $('plan-error').textContent = e.toString();
  }
}
