//! Turns the source text of an expression into tokens, each with the 1-based column (in
//! characters) where it starts. String literals are fully decoded here: escapes are resolved and
//! a double-quoted string is split into its text and `${name}` parts, so nothing is re-read later.
//! This module knows only characters; what the tokens mean is the parser's business.

use super::ExprError;

/// One piece of a double-quoted string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Text(String),
    /// `${name}`: the first value of the attribute `name`.
    Attr(String),
}

/// A decoded string literal. Adjacent text is merged, so a literal without `${…}` has at most
/// one `Text` part (none for `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StrLit {
    pub parts: Vec<Part>,
}

impl StrLit {
    /// The text of a literal without interpolation; `None` when it has a `${…}` part.
    pub fn plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Attr(_) => return None,
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// A bare identifier that is not a keyword: an attribute or a function name.
    Ident(String),
    /// A backtick-quoted attribute name; never a function or a keyword.
    Name(String),
    Str(StrLit),
    Int(String),
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Match,
    NoMatch,
    And,
    Or,
    Not,
    True,
    False,
    Eof,
}

impl Tok {
    /// How the token is shown in error messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Name(s) => format!("`` `{s}` ``"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Int(s) => format!("the number {s}"),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::Eq => "`==`".to_owned(),
            Tok::Ne => "`!=`".to_owned(),
            Tok::Match => "`=~`".to_owned(),
            Tok::NoMatch => "`!~`".to_owned(),
            Tok::And => "`and`".to_owned(),
            Tok::Or => "`or`".to_owned(),
            Tok::Not => "`not`".to_owned(),
            Tok::True => "`true`".to_owned(),
            Tok::False => "`false`".to_owned(),
            Tok::Eof => "the end of the expression".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub tok: Tok,
    /// 1-based character position of the token's first character.
    pub col: usize,
}

pub(super) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(super) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn err(col: usize, message: impl Into<String>) -> ExprError {
    ExprError {
        column: col,
        message: message.into(),
    }
}

/// The tokens of `src`, always ending with `Tok::Eof`.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut lx = Lexer { chars, pos: 0 };
    let mut out = Vec::new();
    loop {
        lx.skip_space();
        let col = lx.pos + 1;
        let Some(c) = lx.peek(0) else {
            out.push(Token { tok: Tok::Eof, col });
            return Ok(out);
        };
        let tok = lx.token(c, col)?;
        out.push(Token { tok, col });
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn skip_space(&mut self) {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn token(&mut self, c: char, col: usize) -> Result<Tok, ExprError> {
        let (tok, len) = match (c, self.peek(1)) {
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            ('=', Some('=')) => (Tok::Eq, 2),
            ('=', Some('~')) => (Tok::Match, 2),
            ('!', Some('=')) => (Tok::Ne, 2),
            ('!', Some('~')) => (Tok::NoMatch, 2),
            ('=', _) => {
                return Err(err(
                    col,
                    "unexpected `=`; compare with `==`, or match a regular expression with `=~`",
                ));
            }
            ('!', _) => {
                return Err(err(
                    col,
                    "unexpected `!`; write `!=`, `!~`, or `not` to negate a condition",
                ));
            }
            ('&', _) => {
                return Err(err(
                    col,
                    "unexpected `&`; write `and` to combine conditions",
                ));
            }
            ('|', _) => return Err(err(col, "unexpected `|`; write `or` to combine conditions")),
            ('"', _) => return self.double_quoted(col),
            ('\'', _) => return self.single_quoted(col),
            ('`', _) => return self.backticked(col),
            (c, _) if c.is_ascii_digit() => return Ok(self.number()),
            (c, _) if is_ident_start(c) => return Ok(self.word()),
            (c, _) if c.is_alphabetic() => {
                let name = self.take_while(|c| !c.is_whitespace() && !"(),=!`'\"".contains(c));
                return Err(err(
                    col,
                    format!(
                        "unexpected character `{c}`; an attribute name that is not [A-Za-z_][A-Za-z0-9_-]* goes in backticks: `{name}`"
                    ),
                ));
            }
            (c, _) => {
                return Err(err(
                    col,
                    format!(
                        "unexpected character `{c}`; expected an attribute name, a string in \"…\" or '…', a number, a function call, `(`, `not`, `and`, `or`, `==`, `!=`, `=~` or `!~`"
                    ),
                ));
            }
        };
        self.pos += len;
        Ok(tok)
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0).filter(|&c| f(c)) {
            s.push(c);
            self.pos += 1;
        }
        s
    }

    fn number(&mut self) -> Tok {
        Tok::Int(self.take_while(|c| c.is_ascii_digit()))
    }

    fn word(&mut self) -> Tok {
        let w = self.take_while(is_ident_char);
        match w.as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "true" => Tok::True,
            "false" => Tok::False,
            _ => Tok::Ident(w),
        }
    }

    fn backticked(&mut self, col: usize) -> Result<Tok, ExprError> {
        self.pos += 1;
        let name = self.take_while(|c| c != '`');
        if self.peek(0).is_none() {
            return Err(err(
                col,
                "unterminated attribute name; close it with a backtick (`)",
            ));
        }
        self.pos += 1;
        if name.is_empty() {
            return Err(err(col, "empty attribute name between backticks"));
        }
        Ok(Tok::Name(name))
    }

    /// `'…'`: raw text; only `\'` and `\\` are escapes, any other backslash stays as it is.
    fn single_quoted(&mut self, col: usize) -> Result<Tok, ExprError> {
        self.pos += 1;
        let mut text = String::new();
        loop {
            match (self.peek(0), self.peek(1)) {
                (None, _) => return Err(err(col, "unterminated string; close it with '")),
                (Some('\''), _) => {
                    self.pos += 1;
                    break;
                }
                (Some('\\'), Some(e @ ('\'' | '\\'))) => {
                    text.push(e);
                    self.pos += 2;
                }
                (Some(c), _) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Text(text)]
        };
        Ok(Tok::Str(StrLit { parts }))
    }

    /// `"…"`: escapes `\" \\ \n \t \$` and `${name}` interpolation.
    fn double_quoted(&mut self, col: usize) -> Result<Tok, ExprError> {
        self.pos += 1;
        let mut parts = Vec::new();
        let mut text = String::new();
        loop {
            let here = self.pos + 1;
            match (self.peek(0), self.peek(1)) {
                (None, _) => return Err(err(col, "unterminated string; close it with \"")),
                (Some('"'), _) => {
                    self.pos += 1;
                    break;
                }
                (Some('\\'), e) => {
                    let decoded = match e {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('$') => '$',
                        Some(other) => {
                            return Err(err(
                                here,
                                format!(
                                    "unknown escape `\\{other}`; in \"…\" the escapes are \\\" \\\\ \\n \\t \\$ (write regular expressions in '…', where backslashes stay as they are)"
                                ),
                            ));
                        }
                        None => return Err(err(col, "unterminated string; close it with \"")),
                    };
                    text.push(decoded);
                    self.pos += 2;
                }
                (Some('$'), Some('{')) => {
                    self.pos += 2;
                    let name = self.take_while(|c| c != '}' && c != '"');
                    if self.peek(0) != Some('}') {
                        return Err(err(
                            here,
                            "`${` without a closing `}`; write ${name}, or \\$ for a literal dollar sign",
                        ));
                    }
                    self.pos += 1;
                    let mut cs = name.chars();
                    let valid = cs.next().is_some_and(is_ident_start) && cs.all(is_ident_char);
                    if !valid {
                        return Err(err(
                            here,
                            format!(
                                "`${{{name}}}` is not an attribute name; inside ${{…}} write a name like [A-Za-z_][A-Za-z0-9_-]*, or use concat() for other names (a group in a replacement is written '${{1}}' in single quotes, or \\${{1}})"
                            ),
                        ));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Attr(name));
                }
                (Some(c), _) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Tok::Str(StrLit { parts }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn text(s: &str) -> Tok {
        Tok::Str(StrLit {
            parts: vec![Part::Text(s.to_owned())],
        })
    }

    #[test]
    fn operators_and_words() {
        assert_eq!(
            toks("a==b != c =~ d !~ e and or not true false"),
            vec![
                Tok::Ident("a".into()),
                Tok::Eq,
                Tok::Ident("b".into()),
                Tok::Ne,
                Tok::Ident("c".into()),
                Tok::Match,
                Tok::Ident("d".into()),
                Tok::NoMatch,
                Tok::Ident("e".into()),
                Tok::And,
                Tok::Or,
                Tok::Not,
                Tok::True,
                Tok::False,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn identifiers_take_hyphens_and_keywords_are_lowercase_only() {
        assert_eq!(
            toks("x-y_1 AND Not"),
            vec![
                Tok::Ident("x-y_1".into()),
                Tok::Ident("AND".into()),
                Tok::Ident("Not".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let t = lex("\"Ää\" == x").unwrap();
        assert_eq!(
            t.iter().map(|t| t.col).collect::<Vec<_>>(),
            vec![1, 6, 9, 10]
        );
    }

    #[test]
    fn double_quoted_escapes_and_interpolation() {
        assert_eq!(
            toks(r#""a\"b\\c\nd\te\$f""#),
            vec![text("a\"b\\c\nd\te$f"), Tok::Eof]
        );
        assert_eq!(
            toks(r#""${givenName} ${sn}!""#),
            vec![
                Tok::Str(StrLit {
                    parts: vec![
                        Part::Attr("givenName".into()),
                        Part::Text(" ".into()),
                        Part::Attr("sn".into()),
                        Part::Text("!".into()),
                    ]
                }),
                Tok::Eof
            ]
        );
        // A `$` not followed by `{` is plain text.
        assert_eq!(toks(r#""^a$|$1""#), vec![text("^a$|$1"), Tok::Eof]);
    }

    #[test]
    fn single_quoted_is_raw() {
        assert_eq!(toks(r"'\d+\'\\${x}'"), vec![text(r"\d+'\${x}"), Tok::Eof]);
        assert_eq!(
            toks("''"),
            vec![Tok::Str(StrLit { parts: vec![] }), Tok::Eof]
        );
    }

    #[test]
    fn backticked_names() {
        assert_eq!(
            toks("`State/Prov` == `and`"),
            vec![
                Tok::Name("State/Prov".into()),
                Tok::Eq,
                Tok::Name("and".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = |s: &str| lex(s).unwrap_err();
        assert_eq!(e("a = b").column, 3);
        assert_eq!(e("a && b").column, 3);
        assert_eq!(e("a || b").column, 3);
        assert_eq!(e("!a").column, 1);
        assert_eq!(e("x == \"abc").column, 6);
        assert_eq!(e("x == 'abc").column, 6);
        assert_eq!(e("`abc").column, 1);
        assert_eq!(e("``").column, 1);
        assert_eq!(e(r#""a\qb""#).column, 3);
        assert_eq!(e(r#""a${b""#).column, 3);
        assert_eq!(e(r#""ab${1x}""#).column, 4);
        assert_eq!(e(r#""${}""#).column, 2);
        assert_eq!(e("a # b").column, 3);
        assert_eq!(e("Ärger").column, 1);
        assert!(e("Ärger").message.contains("`Ärger`"));
        assert!(e(r#""\d""#).message.contains("'…'"));
    }
}
