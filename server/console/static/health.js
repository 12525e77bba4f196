// The Health page: the node's /readyz and /metrics sampled every 2 s while
// the page is open, drawn over time; measured uptime from the health log.
import { get, el } from './api.js';
import { draw } from './chart.js';

const $ = (id) => document.getElementById(id);
const KEEP = 120;
const samples = [];
let timer = null, uptime = {};

// parseMetrics reads Prometheus text into {name: [{labels, value}]}.
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const p of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2];
    (out[m[1]] = out[m[1]] || []).push({ labels, value: parseFloat(m[3]) });
  }
  return out;
}
const sum = (m, name, pred) => (m[name] || []).filter((x) => !pred || pred(x.labels)).reduce((a, x) => a + x.value, 0);

async function sample() {
  try {
    const [ready, text] = await Promise.all([fetch('/readyz', { cache: 'no-store' }).then((r) => r.json()), get('/metrics')]);
    const m = parseMetrics(text);
    samples.push({
      t: Date.now(), ready,
      queries: sum(m, 'lienthong_queries_total'),
      errors: sum(m, 'lienthong_queries_total', (l) => l.outcome && l.outcome !== 'ok'),
      latSum: sum(m, 'lienthong_query_duration_seconds_sum'), latCount: sum(m, 'lienthong_query_duration_seconds_count'),
      running: sum(m, 'lienthong_queries_running'), queued: sum(m, 'lienthong_queries_queued'),
    });
    if (samples.length > KEEP) samples.shift();
    render();
    $('health-status').dataset.samples = String(samples.length);
    $('health-status').textContent = `node ${ready.status} · catalog version ${ready.catalog_version || '-'} · sampled every 2 s while this page is open (${samples.length} samples)`;
  } catch (e) {
    $('health-status').textContent = 'sampling failed: ' + e;
  }
}

function rates(key) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    out.push(Math.max(0, (samples[i][key] - samples[i - 1][key]) / dt));
  }
  return out;
}

function render() {
  const labels = samples.slice(1).map((s) => new Date(s.t).toLocaleTimeString());
  draw($('h-rate'), labels, [{ name: '', values: rates('queries') }], 'line');
  draw($('h-errors'), labels, [{ name: '', values: rates('errors') }], 'line');
  const lat = [];
  for (let i = 1; i < samples.length; i++) {
    const dc = samples[i].latCount - samples[i - 1].latCount;
    lat.push(dc > 0 ? 1000 * (samples[i].latSum - samples[i - 1].latSum) / dc : NaN);
  }
  draw($('h-latency'), labels, [{ name: '', values: lat }], 'line');
  const all = samples.map((s) => new Date(s.t).toLocaleTimeString());
  draw($('h-running'), all, [{ name: 'running', values: samples.map((s) => s.running) }, { name: 'queued', values: samples.map((s) => s.queued) }], 'line');
  const last = samples[samples.length - 1];
  const srcs = (last && last.ready.sources) || [];
  $('health-sources').tBodies[0].replaceChildren(...srcs.map((src) => {
    const u = uptime[src.name];
    return el('tr', { 'data-source': src.name }, el('td', {}, src.name), el('td', {}, src.kind),
      el('td', {}, el('span', { class: 'badge ' + (src.status === 'ok' ? 'ok' : src.status === 'connecting' ? 'warn' : 'bad') }, src.status)),
      el('td', {}, src.breaker || ''), el('td', { class: 'num' }, u && u.uptime !== undefined ? (u.uptime * 100).toFixed(2) + ' %' : 'not measured'),
      el('td', {}, el('span', { class: 'timeline' }, samples.map((s) => {
        const st = ((s.ready.sources || []).find((x) => x.name === src.name) || {}).status;
        return el('span', { class: st === 'ok' ? 'up' : st === 'connecting' ? 'connecting' : 'down', title: new Date(s.t).toLocaleTimeString() + ' ' + st });
      }))));
  }));
}

export async function startHealth() {
  if (timer) return;
  get('/v1/health/uptime').then((u) => { uptime = u.sources || {}; }).catch(() => {});
  await sample();
  timer = setInterval(sample, 2000);
}
export function stopHealth() { clearInterval(timer); timer = null; }
