// The console's entry: login, the session (who you are, what you may do),
// purpose and case for this tab, and the pages.
import { request, get, setCSRF, session, setSession } from './api.js';
import { initQuery, sqlText, completer } from './query.js';
import { explain } from './plan.js';
import { initCatalog, loadCatalog } from './catalog.js';
import { initAudit } from './audit.js';
import { initReports } from './reports.js';
import { startHealth, stopHealth } from './health.js';

const $ = (id) => document.getElementById(id);
let me = null;

function show(page) {
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== page + '-page';
  for (const b of document.querySelectorAll('#nav button')) b.classList.toggle('active', b.dataset.page === page);
  if (page === 'catalog') loadCatalog();
  if (page === 'health') startHealth(); else stopHealth();
  document.body.dataset.page = page;
}

async function refreshCatalog() {
  // The completion list is the principal's catalog for this tab's purpose.
  try { completer.setCatalog(await get('/v1/catalog')); } catch (e) { completer.setCatalog(null); }
}

function started(info) {
  me = info;
  setCSRF(info.csrf);
  $('login-page').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = `${info.principal} (${info.agency})`;
  $('who-name').title = 'may: read what the catalog lists' + (info.operations.length ? '; ' + info.operations.join(', ') : '');
  const ops = new Set(info.operations);
  for (const b of document.querySelectorAll('#nav button[data-op]')) b.hidden = !ops.has(b.dataset.op);
  const s = session();
  $('purpose').value = s.purpose;
  $('case').value = s.caseId;
  if (!started.once) {
    started.once = true;
    initQuery(info, (analyze) => { show('plan'); explain(sqlText(), analyze); });
    initCatalog();
    initAudit();
    initReports();
    $('plan-explain').addEventListener('click', () => explain(sqlText(), false));
    $('plan-analyze').addEventListener('click', () => explain(sqlText(), true));
  }
  refreshCatalog();
  show('query');
}

async function login(e) {
  e.preventDefault();
  $('login-error').textContent = '';
  const tok = $('token');
  try {
    const info = await request('POST', '/v1/session', { token: tok.value.trim() });
    tok.value = ''; // not kept anywhere: the cookie is the session now
    started(info);
  } catch (err) {
    tok.value = '';
    $('login-error').textContent = err.toString();
  }
}

async function logout() {
  try { await request('DELETE', '/v1/session'); } catch (e) { /* gone already */ }
  setCSRF('');
  location.reload();
}

function onContext() {
  setSession($('purpose').value.trim(), $('case').value.trim());
  refreshCatalog();
  if (!$('catalog-page').hidden) loadCatalog();
}

document.addEventListener('DOMContentLoaded', async () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  for (const b of document.querySelectorAll('#nav button')) b.addEventListener('click', () => show(b.dataset.page));
  $('purpose').addEventListener('change', onContext);
  $('case').addEventListener('change', onContext);
  try { started(await get('/v1/session')); } catch (e) { $('login-page').hidden = false; $('token').focus(); }
});
