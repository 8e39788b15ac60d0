// Splits `;`-joined SQL into statements, as D1 does, minding quotes, comments and the
// BEGIN … END body of a CREATE TRIGGER.

export function splitStatements(sql) {
  const statements = [];
  let start = 0;
  let depth = 0; // BEGIN … END nesting inside a trigger
  let i = 0;
  const word = () => {
    const m = /^[A-Za-z_]+/.exec(sql.slice(i));
    return m ? m[0].toUpperCase() : "";
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === "`" || c === "[") {
      const close = c === "[" ? "]" : c;
      i++;
      while (i < sql.length) {
        if (sql[i] === close) {
          if (close !== "]" && sql[i + 1] === close) i += 2; // doubled quote
          else break;
        } else i++;
      }
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (/[A-Za-z_]/.test(c) && (i === 0 || !/[A-Za-z0-9_]/.test(sql[i - 1]))) {
      const w = word();
      if (w === "BEGIN" && /^\s*CREATE\s+(TEMP\w*\s+)?TRIGGER\b/i.test(sql.slice(start))) depth++;
      else if (w === "END" && depth > 0) depth--;
      i += w.length;
    } else if (c === ";" && depth === 0) {
      statements.push(sql.slice(start, i));
      start = ++i;
    } else i++;
  }
  statements.push(sql.slice(start));
  return statements.map((s) => s.trim()).filter((s) => s.length > 0 && !/^(--[^\n]*\n?|\/\*[\s\S]*?\*\/|\s)*$/.test(s));
}
