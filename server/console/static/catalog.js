// The Catalog page: GET /v1/catalog, which lists only what the principal
// may read (for the tab's purpose), with each source's state, and the
// measured uptime from the health history.
import { get, el, fmtInt } from './api.js';

const $ = (id) => document.getElementById(id);
let cat = null, uptime = {};

const statusBadge = (s) => el('span', { class: 'badge ' + (s === 'ok' ? 'ok' : s === 'connecting' ? 'warn' : 'bad') }, s);

export async function loadCatalog() {
  $('catalog-error').textContent = '';
  try {
    [cat, uptime] = await Promise.all([get('/v1/catalog'), get('/v1/health/uptime').then((u) => u.sources || {}).catch(() => ({}))]);
    render();
    return cat;
  } catch (e) {
    $('catalog-error').textContent = e.toString();
    return null;
  }
}

export function initCatalog() { $('catalog-filter').addEventListener('input', render); }

function render() {
  if (!cat) return;
  const f = $('catalog-filter').value.toLowerCase();
  let tables = 0;
  const out = cat.sources.map((s) => {
    const u = uptime[s.name];
    const ts = s.tables.filter((t) => !f || (s.name + '.' + t.name).toLowerCase().includes(f) || t.columns.some((c) => c.name.toLowerCase().includes(f)));
    tables += ts.length;
    return el('div', { class: 'source card', 'data-source': s.name },
      el('h2', {}, s.name, ' ', el('span', { class: 'status' }, s.kind), ' ', statusBadge(s.status),
        s.breaker && s.breaker !== 'closed' ? el('span', { class: 'badge bad' }, 'breaker ' + s.breaker) : null,
        u && u.uptime !== undefined ? el('span', { class: 'badge' }, `uptime 24 h ${(u.uptime * 100).toFixed(2)} %`) : null),
      s.last_error || s.unavailable ? el('div', { class: 'status' }, s.last_error || s.unavailable) : null,
      ts.map((t) => el('details', { 'data-table': s.name + '.' + t.name, open: f ? true : null },
        el('summary', {}, el('b', {}, s.name + '.' + t.name), ' ', el('span', { class: 'status' }, `${t.columns.length} columns` + (t.row_estimate !== undefined ? ` · ~${fmtInt(t.row_estimate)} rows` : '')),
          t.pin_column ? el('span', { class: 'badge pin' }, 'PIN ' + t.pin_column) : null),
        el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, ['column', 'type', 'source type', 'nullable', ''].map((h) => el('th', {}, h)))),
          el('tbody', {}, t.columns.map((c) => el('tr', { 'data-column': c.name }, el('td', {}, c.name), el('td', {}, c.type), el('td', { class: 'status' }, c.source_type),
            el('td', {}, c.nullable ? 'yes' : 'no'),
            el('td', {}, c.name === t.pin_column ? el('span', { class: 'badge pin' }, 'PIN') : null, c.sensitive ? el('span', { class: 'badge sens' }, 'sensitive') : null))))))));
  });
  $('catalog').replaceChildren(...out);
  $('catalog-status').textContent = `catalog version ${cat.version} · ${cat.sources.length} sources · ${tables} tables you may read`;
}
