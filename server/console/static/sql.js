// SQL highlighting and completion for the query editor. Completion offers
// keywords and what GET /v1/catalog returned: the principal's filtered
// catalog, so nothing it may not read is ever suggested.
const KEYWORDS = ('SELECT FROM WHERE AND OR NOT IN IS NULL AS ON JOIN INNER LEFT RIGHT FULL OUTER CROSS GROUP BY ORDER HAVING ' +
  'LIMIT OFFSET DISTINCT UNION ALL EXISTS BETWEEN LIKE CASE WHEN THEN ELSE END WITH ASC DESC EXPLAIN ANALYZE USING ' +
  'TRUE FALSE CAST DATE TIMESTAMP INTERVAL INTERSECT EXCEPT OVER PARTITION').split(' ');
const FUNCTIONS = ('COUNT SUM AVG MIN MAX COALESCE LOWER UPPER CONCAT SUBSTRING LENGTH YEAR MONTH DAY ROUND ABS NULLIF ' +
  'ROW_NUMBER RANK DENSE_RANK PIN_VERIFY TRIM LPAD RPAD LEFT RIGHT DATEDIFF').split(' ');
const KW = new Set(KEYWORDS);
const FN = new Set(FUNCTIONS);

// tokens splits SQL into [kind, text] pairs; kinds: kw fn id str num com ws op.
export function tokens(sql) {
  const out = [];
  const re = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^'\\]|\\.|'')*'?)|("(?:[^"]|"")*"?|`(?:[^`]|``)*`?)|(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([\p{L}_][\p{L}\p{N}_$]*)|(\s+)|([^\s])/gu;
  let m;
  while ((m = re.exec(sql)) !== null) {
    if (m[1]) out.push(['com', m[1]]);
    else if (m[2]) out.push(['str', m[2]]);
    else if (m[3]) out.push(['id', m[3]]);
    else if (m[4]) out.push(['num', m[4]]);
    else if (m[5]) {
      const u = m[5].toUpperCase();
      out.push([KW.has(u) ? 'kw' : FN.has(u) ? 'fn' : 'word', m[5]]);
    } else if (m[6]) out.push(['ws', m[6]]);
    else out.push(['op', m[7]]);
  }
  return out;
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// highlight is the editor's text as HTML (escaped) with token classes.
export function highlight(sql) {
  let html = '';
  for (const [k, t] of tokens(sql)) {
    html += (k === 'ws' || k === 'op' || k === 'word') ? esc(t) : `<span class="hl-${k}">${esc(t)}</span>`;
  }
  // A trailing newline needs a character after it to take up a line.
  return html + '\n ';
}

// Completer knows the catalog.
export class Completer {
  constructor() { this.sources = []; }
  setCatalog(cat) { this.sources = (cat && cat.sources) || []; }

  // tableByName finds source.table, or a bare table name.
  table(name) {
    const n = name.toLowerCase();
    for (const s of this.sources) for (const t of s.tables) {
      if ((s.name + '.' + t.name).toLowerCase() === n || t.name.toLowerCase() === n) return { source: s, table: t };
    }
    return null;
  }

  // aliases maps the aliases of FROM/JOIN items in sql to their tables.
  aliases(sql) {
    const m = new Map();
    const re = /\b(?:FROM|JOIN)\s+([\p{L}_][\p{L}\p{N}_]*(?:\.[\p{L}_][\p{L}\p{N}_]*)?)(?:\s+(?:AS\s+)?([\p{L}_][\p{L}\p{N}_]*))?/giu;
    let r;
    while ((r = re.exec(sql)) !== null) {
      const t = this.table(r[1]);
      if (!t) continue;
      m.set(t.table.name.toLowerCase(), t);
      if (r[2] && !KW.has(r[2].toUpperCase())) m.set(r[2].toLowerCase(), t);
    }
    return m;
  }

  // suggest returns [{text, kind}] for the word ending at caret.
  suggest(sql, caret) {
    const before = sql.slice(0, caret);
    const wm = /([\p{L}\p{N}_]*(?:\.[\p{L}\p{N}_]*)*)$/u.exec(before);
    const word = wm ? wm[1] : '';
    const out = [];
    const add = (text, kind, prefix) => {
      if (text.toLowerCase().startsWith(prefix.toLowerCase()) && text.toLowerCase() !== prefix.toLowerCase()) out.push({ text, kind });
    };
    const parts = word.split('.');
    const last = parts[parts.length - 1];
    if (parts.length === 1) {
      if (!word) return { word, items: [] };
      for (const s of this.sources) add(s.name, 'source', last);
      for (const [alias, t] of this.aliases(sql)) for (const c of t.table.columns) add(c.name, 'column of ' + alias, last);
      for (const s of this.sources) for (const t of s.tables) add(t.name, 'table in ' + s.name, last);
      for (const k of KEYWORDS) add(k, 'keyword', last);
      for (const f of FUNCTIONS) add(f, 'function', last);
    } else {
      const head = parts.slice(0, -1).join('.').toLowerCase();
      const src = this.sources.find((s) => s.name.toLowerCase() === head);
      if (src) for (const t of src.tables) add(t.name, 'table', last);
      const t = this.aliases(sql).get(head) || this.table(head);
      if (t) for (const c of t.table.columns) add(c.name, c.type, last);
    }
    // Unique, at most 50.
    const seen = new Set();
    return { word: last, items: out.filter((i) => !seen.has(i.text) && seen.add(i.text)).slice(0, 50) };
  }
}
