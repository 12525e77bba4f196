// The Reports page: the sharing report (audit/report's HTML, its own
// charts and no scripts) for a period, framed and downloadable.
const $ = (id) => document.getElementById(id);

function currentHalf() {
  const d = new Date();
  return d.getFullYear() + (d.getMonth() < 6 ? '-H1' : '-H2');
}

export function initReports() {
  const p = $('report-period');
  p.value = currentHalf();
  const link = () => { $('report-download').href = '/v1/report?download=1&period=' + encodeURIComponent(p.value.trim()); };
  p.addEventListener('input', link);
  link();
  $('report-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('report-error').textContent = '';
    const url = '/v1/report?period=' + encodeURIComponent(p.value.trim());
    // Ask first, so a refusal shows as a message rather than a framed error.
    const res = await fetch(url, { credentials: 'same-origin', method: 'HEAD' }).catch(() => null);
    if (res && !res.ok && res.status !== 405) {
      const g = await fetch(url, { credentials: 'same-origin' });
      let msg = 'HTTP ' + g.status;
      try { const j = await g.json(); msg = j.code + ': ' + j.message; } catch (err) { /* not JSON */ }
      $('report-error').textContent = msg;
      return;
    }
    $('report-frame').src = url;
  });
}
