//! SQL text as SQLite reads it: tokens and the statements they make up.
//!
//! Just enough of SQLite's tokenizer (`tokenize.c`) to find where statements start and end and
//! which words they hold, with no parser: comments, string literals, the four ways of quoting an
//! identifier and `;` inside a trigger's body are read as SQLite reads them, so a keyword inside
//! a comment or a string never counts and one hidden by case or whitespace always does.

/// One token. Whitespace and comments make none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'s> {
    /// A bare word: a keyword, a name or a number (compared without regard to ASCII case).
    Word(&'s str),
    /// A quoted identifier (`"x"`, `[x]`, `` `x` ``), its quotes removed but doubled quotes kept.
    Quoted(&'s str),
    /// A string literal, its quotes removed but doubled quotes kept.
    Text(&'s str),
    /// A bound parameter: `?`, `?NNN`, `:name`, `@name` or `$name`.
    Param(&'s str),
    /// `;`.
    Semicolon,
    /// Any other character: an operator or punctuation.
    Punct(char),
}

impl<'s> Token<'s> {
    /// Whether this is the bare word `keyword` (ASCII upper case), as SQLite compares keywords.
    pub fn is(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    /// The name this token can stand for: SQLite takes a bare word, a quoted identifier and, in
    /// many places, a string literal as a name (`INSERT INTO 'sqlite_master'`).
    pub fn name(&self) -> Option<&'s str> {
        match self {
            Token::Word(s) | Token::Quoted(s) | Token::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// SQLite's whitespace: no other character separates tokens (a no-break space is part of a name).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

/// A character of a bare word: SQLite's `IdChar` (every byte of a multi-byte character counts).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The tokens of `sql`, in order, each with where it starts and ends. Never fails: an
/// unterminated comment runs to the end, as in SQLite, and an unterminated quote makes a token of
/// the rest (which SQLite would refuse).
fn tokens(sql: &str) -> Vec<(usize, usize, Token<'_>)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_space(b) {
            i += 1;
        } else if bytes[i..].starts_with(b"--") {
            i = bytes[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len(), |p| i + p + 1);
        } else if bytes[i..].starts_with(b"/*") {
            i = sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |p| i + 2 + p + 2);
        } else if let Some(close) = match b {
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            b'`' => Some(b'`'),
            b'[' => Some(b']'),
            _ => None,
        } {
            let (end, next) = closing(bytes, i + 1, close, b != b'[');
            let inner = &sql[i + 1..end];
            let token = if b == b'\'' {
                Token::Text(inner)
            } else {
                Token::Quoted(inner)
            };
            out.push((i, next, token));
            i = next;
        } else if b == b';' {
            out.push((i, i + 1, Token::Semicolon));
            i += 1;
        } else if matches!(b, b'?' | b':' | b'@' | b'$') {
            let end = i + 1 + bytes[i + 1..].iter().take_while(|&&c| is_word(c)).count();
            out.push((i, end, Token::Param(&sql[i..end])));
            i = end;
        } else if is_word(b) {
            let end = i + bytes[i..].iter().take_while(|&&c| is_word(c)).count();
            out.push((i, end, Token::Word(&sql[i..end])));
            i = end;
        } else {
            let c = sql[i..].chars().next().unwrap_or('\u{fffd}');
            out.push((i, i + c.len_utf8(), Token::Punct(c)));
            i += c.len_utf8();
        }
    }
    out
}

/// Where the quote opened before `from` closes: the end of its content and the index after the
/// closing quote. A doubled quote stands for one when `doubles` (`[` has no escape).
fn closing(bytes: &[u8], from: usize, close: u8, doubles: bool) -> (usize, usize) {
    let mut j = from;
    while j < bytes.len() {
        if bytes[j] == close {
            if doubles && bytes.get(j + 1) == Some(&close) {
                j += 2;
                continue;
            }
            return (j, j + 1);
        }
        j += 1;
    }
    (bytes.len(), bytes.len())
}

/// One statement: its text, from its first token to its last (no `;`, no comment around it),
/// and its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'s> {
    /// The statement's text.
    pub text: &'s str,
    /// Its tokens.
    pub tokens: Vec<Token<'s>>,
}

/// The statements of `sql`; statements with no tokens (a stray `;`, a comment) are left out. A
/// `;` inside a trigger's `BEGIN … END` body does not end the `CREATE TRIGGER` (SQLite's
/// `sqlite3_complete` rule), and the `END` of a `CASE` in the body does not end the body.
pub fn statements(sql: &str) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    let mut current: Vec<Token<'_>> = Vec::new();
    let mut span = (0, 0);
    // In a trigger's body: how many CASEs are open, once its BEGIN is seen.
    let mut body: Option<usize> = None;
    for (start, end, token) in tokens(sql) {
        match (token, body) {
            (Token::Semicolon, None) => {
                if !current.is_empty() {
                    out.push(Statement {
                        text: &sql[span.0..span.1],
                        tokens: std::mem::take(&mut current),
                    });
                }
                continue;
            }
            (t, None) if t.is("BEGIN") && is_create_trigger(&current) => body = Some(0),
            (t, Some(open)) if t.is("CASE") => body = Some(open + 1),
            (t, Some(0)) if t.is("END") => body = None,
            (t, Some(open)) if t.is("END") => body = Some(open - 1),
            _ => {}
        }
        if current.is_empty() {
            span.0 = start;
        }
        span.1 = end;
        current.push(token);
    }
    if !current.is_empty() {
        out.push(Statement {
            text: &sql[span.0..span.1],
            tokens: current,
        });
    }
    out
}

/// Whether `tokens` so far are `[EXPLAIN [QUERY PLAN]] CREATE [TEMP|TEMPORARY] TRIGGER …`.
fn is_create_trigger(tokens: &[Token<'_>]) -> bool {
    creates(skip_explain(tokens), "TRIGGER")
}

/// Whether `tokens` are `CREATE [TEMP|TEMPORARY] <object> …` (`object` in upper case).
pub fn creates(tokens: &[Token<'_>], object: &str) -> bool {
    match tokens {
        [create, what, ..] if create.is("CREATE") && what.is(object) => true,
        [create, temp, what, ..] => {
            create.is("CREATE") && (temp.is("TEMP") || temp.is("TEMPORARY")) && what.is(object)
        }
        _ => false,
    }
}

/// `tokens` without a leading `EXPLAIN` or `EXPLAIN QUERY PLAN`.
pub fn skip_explain<'t, 's>(tokens: &'t [Token<'s>]) -> &'t [Token<'s>] {
    match tokens {
        [e, q, p, rest @ ..] if e.is("EXPLAIN") && q.is("QUERY") && p.is("PLAN") => rest,
        [e, rest @ ..] if e.is("EXPLAIN") => rest,
        _ => tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(sql: &str) -> Vec<Vec<String>> {
        statements(sql)
            .iter()
            .map(|s| {
                s.tokens
                    .iter()
                    .map(|t| match t {
                        Token::Word(w) => w.to_string(),
                        Token::Quoted(q) => format!("\"{q}\""),
                        Token::Text(s) => format!("'{s}'"),
                        Token::Param(p) => p.to_string(),
                        Token::Semicolon => ";".into(),
                        Token::Punct(c) => c.to_string(),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn comments_and_quotes_hide_what_they_hold() {
        assert_eq!(
            words("SELECT 'a;--b' -- c; DROP\n, /* ; */ \"x\"\"y\", [a;b], `c``d`;"),
            vec![vec![
                "SELECT",
                "'a;--b'",
                ",",
                "\"x\"\"y\"",
                ",",
                "\"a;b\"",
                ",",
                "\"c``d\""
            ]]
        );
        assert_eq!(
            words("/* unterminated ; DROP TABLE t"),
            Vec::<Vec<String>>::new()
        );
        assert_eq!(
            words("SELECT 'open ; DROP"),
            vec![vec!["SELECT", "'open ; DROP'"]]
        );
    }

    #[test]
    fn statements_split_on_semicolons_outside_trigger_bodies() {
        assert_eq!(words(";; SELECT 1 ;\n; select\t2").len(), 2);
        let trigger = "CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN
            UPDATE b SET n = CASE WHEN n > 0 THEN n END; DELETE FROM c; END; DROP TABLE d";
        let split = words(trigger);
        assert_eq!(split.len(), 2, "{split:?}");
        assert_eq!(split[1], vec!["DROP", "TABLE", "d"]);
        let texts: Vec<&str> = statements(trigger).iter().map(|s| s.text).collect();
        assert!(texts[0].starts_with("CREATE TEMP") && texts[0].ends_with("END"));
        assert_eq!(texts[1], "DROP TABLE d");
        // A BEGIN that is not a trigger's is a statement of its own.
        assert_eq!(words("BEGIN; CREATE TABLE x(a); COMMIT").len(), 3);
    }

    #[test]
    fn parameters_and_multibyte_names_are_tokens() {
        assert_eq!(
            words("SELECT ?1, :a, @b, $c, ? FROM tâble\u{a0}x"),
            vec![vec![
                "SELECT",
                "?1",
                ",",
                ":a",
                ",",
                "@b",
                ",",
                "$c",
                ",",
                "?",
                "FROM",
                "tâble\u{a0}x"
            ]]
        );
    }
}
