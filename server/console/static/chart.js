// Charts drawn on a canvas in the browser: nothing leaves the page.
const COLORS = ['#1a5fb4', '#e08a00', '#2e7d32', '#b3261e', '#6a3d9a', '#0b6e79'];

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
const short = (n) => Math.abs(n) >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : Math.abs(n) >= 1e4 ? (n / 1e3).toFixed(0) + 'k' : String(Math.round(n * 100) / 100);

// draw plots labels against series [{name, values}] as bars or lines.
export function draw(canvas, labels, series, type) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.font = '12px sans-serif';
  const left = 56, right = 12, top = 14, bottom = 46;
  const pw = W - left - right, ph = H - top - bottom;
  let max = 0, min = 0;
  for (const s of series) for (const v of s.values) if (Number.isFinite(v)) { max = Math.max(max, v); min = Math.min(min, v); }
  max = niceMax(max);
  const y = (v) => top + ph - ((v - min) / (max - min || 1)) * ph;
  // axes and grid
  ctx.strokeStyle = '#e3e6ea'; ctx.fillStyle = '#667085'; ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const v = min + (max - min) * i / 4;
    ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(W - right, y(v)); ctx.stroke();
    ctx.fillText(short(v), left - 6, y(v));
  }
  const n = labels.length;
  if (n === 0) return;
  const step = pw / n;
  ctx.textAlign = 'center'; ctx.textBaseline = 'top';
  const every = Math.ceil(n / Math.max(1, Math.floor(pw / 60)));
  labels.forEach((l, i) => {
    if (i % every) return;
    let t = String(l);
    if (t.length > 10) t = t.slice(0, 9) + '…';
    ctx.fillText(t, left + step * (i + 0.5), top + ph + 6);
  });
  series.forEach((s, si) => {
    ctx.fillStyle = ctx.strokeStyle = COLORS[si % COLORS.length];
    if (type === 'line') {
      ctx.lineWidth = 2; ctx.beginPath();
      let started = false;
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v)) return;
        const px = left + step * (i + 0.5);
        if (started) ctx.lineTo(px, y(v)); else { ctx.moveTo(px, y(v)); started = true; }
      });
      ctx.stroke(); ctx.lineWidth = 1;
    } else {
      const bw = Math.max(1, step * 0.8 / series.length);
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v)) return;
        const px = left + step * i + step * 0.1 + bw * si;
        ctx.fillRect(px, Math.min(y(v), y(0)), bw, Math.abs(y(0) - y(v)));
      });
    }
  });
  if (series.length > 1 || series[0].name) {
    ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
    series.forEach((s, si) => {
      ctx.fillStyle = COLORS[si % COLORS.length];
      ctx.fillRect(left + 8 + si * 140, H - 12, 10, 10);
      ctx.fillStyle = '#333'; ctx.fillText(s.name, left + 22 + si * 140, H - 7);
    });
  }
}
