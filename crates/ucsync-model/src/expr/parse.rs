//! Builds the compiled tree of an expression from its tokens. Precedence, lowest first:
//! `or`, `and`, comparison (`==` `!=` `=~` `!~`, not chained), `not`, then values (literals,
//! attributes, calls, parentheses). Everything that could go wrong later is checked here: regular
//! expressions are compiled, function names and argument counts are resolved, and nesting is
//! bounded so that neither compiling nor evaluating can run out of stack.

use std::collections::BTreeSet;

use regex::Regex;

use super::ExprError;
use super::functions::{self, Call};
use super::lexer::{Part, StrLit, Tok, Token};

/// How deeply parentheses, `not` and calls may nest.
pub(super) const MAX_DEPTH: usize = 64;

/// A compiled expression.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// A literal: always exactly one value.
    Const(Vec<String>),
    Bool(bool),
    Attr(String),
    /// A double-quoted string with at least one `${name}`.
    Template {
        parts: Vec<Part>,
        /// Bytes of literal text, to size the result once.
        text_len: usize,
    },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Eq {
        left: Box<Node>,
        right: Box<Node>,
        negate: bool,
    },
    Match {
        left: Box<Node>,
        re: Regex,
        negate: bool,
    },
    Call(Box<Call>),
}

impl Node {
    /// True when the node yields a condition rather than values.
    pub fn is_boolean(&self) -> bool {
        match self {
            Node::Bool(_)
            | Node::Not(_)
            | Node::And(_)
            | Node::Or(_)
            | Node::Eq { .. }
            | Node::Match { .. } => true,
            Node::Call(c) => c.is_boolean(),
            Node::Const(_) | Node::Attr(_) | Node::Template { .. } => false,
        }
    }

    /// Adds every attribute name the node reads to `out`.
    pub fn collect_attributes(&self, out: &mut BTreeSet<String>) {
        match self {
            Node::Const(_) | Node::Bool(_) => {}
            Node::Attr(name) => {
                out.insert(name.clone());
            }
            Node::Template { parts, .. } => {
                for p in parts {
                    if let Part::Attr(name) = p {
                        out.insert(name.clone());
                    }
                }
            }
            Node::Not(n) => n.collect_attributes(out),
            Node::And(v) | Node::Or(v) => v.iter().for_each(|n| n.collect_attributes(out)),
            Node::Eq { left, right, .. } => {
                left.collect_attributes(out);
                right.collect_attributes(out);
            }
            Node::Match { left, .. } => left.collect_attributes(out),
            Node::Call(c) => c.for_each_arg(&mut |n| n.collect_attributes(out)),
        }
    }
}

/// What a function argument looked like in the source, for functions that need literals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Literal {
    /// Not a lone literal: an attribute, a call, a comparison…
    No,
    /// A string literal without `${…}`.
    Str(String),
    /// A double-quoted string with `${…}`.
    Template,
    /// A run of digits.
    Int(String),
}

/// One argument of a call, as parsed.
#[derive(Debug, Clone)]
pub(super) struct Arg {
    pub node: Node,
    /// Column of the argument's first token.
    pub col: usize,
    pub literal: Literal,
}

pub(super) fn parse(tokens: Vec<Token>, src_chars: usize) -> Result<Node, ExprError> {
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end_col: src_chars + 1,
    };
    if p.peek() == &Tok::Eof {
        return Err(ExprError {
            column: 1,
            message: "empty expression; write an attribute name, a string, a function call or a condition".to_owned(),
        });
    }
    let node = p.or()?;
    let t = p.next();
    match t.tok {
        Tok::Eof => Ok(node),
        Tok::RParen => Err(err(t.col, "unmatched `)`")),
        other => Err(err(
            t.col,
            format!(
                "unexpected {} after a complete expression; expected `and`, `or`, a comparison (`==`, `!=`, `=~`, `!~`) or the end",
                other.describe()
            ),
        )),
    }
}

fn err(col: usize, message: impl Into<String>) -> ExprError {
    ExprError {
        column: col,
        message: message.into(),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    end_col: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn col(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end_col, |t| t.col)
    }

    fn next(&mut self) -> Token {
        let t = self.tokens.get(self.pos).cloned().unwrap_or(Token {
            tok: Tok::Eof,
            col: self.end_col,
        });
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self, col: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                col,
                format!(
                    "expression nested too deeply (more than {MAX_DEPTH} levels of parentheses, `not` and calls)"
                ),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let first = self.and()?;
        if self.peek() != &Tok::Or {
            return Ok(first);
        }
        let mut all = vec![first];
        while self.eat(&Tok::Or) {
            all.push(self.and()?);
        }
        Ok(Node::Or(all))
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let first = self.negation()?;
        if self.peek() != &Tok::And {
            return Ok(first);
        }
        let mut all = vec![first];
        while self.eat(&Tok::And) {
            all.push(self.negation()?);
        }
        Ok(Node::And(all))
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let left = self.primary()?;
        let node = match self.peek() {
            Tok::Eq | Tok::Ne => {
                let negate = self.next().tok == Tok::Ne;
                let right = self.primary()?;
                Node::Eq {
                    left: Box::new(left),
                    right: Box::new(right),
                    negate,
                }
            }
            Tok::Match | Tok::NoMatch => {
                let negate = self.next().tok == Tok::NoMatch;
                let t = self.next();
                let Tok::Str(lit) = &t.tok else {
                    return Err(err(
                        t.col,
                        format!(
                            "the right side of `=~` and `!~` must be a regular expression in a string literal, e.g. '^[0-9]+$'; found {}",
                            t.tok.describe()
                        ),
                    ));
                };
                let re = regex_literal(lit, t.col)?;
                Node::Match {
                    left: Box::new(left),
                    re,
                    negate,
                }
            }
            _ => return Ok(left),
        };
        if matches!(self.peek(), Tok::Eq | Tok::Ne | Tok::Match | Tok::NoMatch) {
            return Err(err(
                self.col(),
                "comparisons do not chain; combine them with `and` / `or`, or use parentheses",
            ));
        }
        Ok(node)
    }

    /// `not` binds looser than a comparison: `not a == b` is `not (a == b)`.
    fn negation(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        if self.eat(&Tok::Not) {
            self.enter(col)?;
            let inner = self.negation()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let t = self.next();
        match t.tok {
            Tok::Str(lit) => Ok(string_node(lit)),
            Tok::Int(digits) => Ok(Node::Const(vec![digits])),
            Tok::True => Ok(Node::Bool(true)),
            Tok::False => Ok(Node::Bool(false)),
            Tok::Name(name) => Ok(Node::Attr(name)),
            Tok::Ident(name) => {
                if self.peek() == &Tok::LParen {
                    self.call(name, t.col)
                } else {
                    Ok(Node::Attr(name))
                }
            }
            Tok::LParen => {
                self.enter(t.col)?;
                let inner = self.or()?;
                self.depth -= 1;
                if !self.eat(&Tok::RParen) {
                    return Err(err(
                        self.col(),
                        format!(
                            "expected `)` to close the `(` at column {}, found {}",
                            t.col,
                            self.peek().describe()
                        ),
                    ));
                }
                Ok(inner)
            }
            other => Err(err(
                t.col,
                format!(
                    "expected a value (an attribute name, a string, a number, a function call, `true`, `false`, `not` or `(`), found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn call(&mut self, name: String, col: usize) -> Result<Node, ExprError> {
        // Check the name first, so a misspelt function is reported as such.
        functions::lookup(&name, col)?;
        self.enter(col)?;
        self.pos += 1; // `(`
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                let start = self.pos;
                let arg_col = self.col();
                let node = self.or()?;
                let literal = if self.pos == start + 1 {
                    match self.tokens.get(start).map(|t| &t.tok) {
                        Some(Tok::Str(lit)) => match lit.plain() {
                            Some(s) => Literal::Str(s),
                            None => Literal::Template,
                        },
                        Some(Tok::Int(d)) => Literal::Int(d.clone()),
                        _ => Literal::No,
                    }
                } else {
                    Literal::No
                };
                args.push(Arg {
                    node,
                    col: arg_col,
                    literal,
                });
                if self.eat(&Tok::Comma) {
                    continue;
                }
                if self.eat(&Tok::RParen) {
                    break;
                }
                return Err(err(
                    self.col(),
                    format!(
                        "expected `,` or `)` in the arguments of {name}() (opened at column {col}), found {}",
                        self.peek().describe()
                    ),
                ));
            }
        }
        self.depth -= 1;
        let call = functions::build(&name, col, args)?;
        Ok(Node::Call(Box::new(call)))
    }
}

/// A string token as a value: a constant, or a template when it has `${…}`.
fn string_node(lit: StrLit) -> Node {
    match lit.plain() {
        Some(s) => Node::Const(vec![s]),
        None => {
            let text_len = lit
                .parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.len(),
                    Part::Attr(_) => 0,
                })
                .sum();
            Node::Template {
                parts: lit.parts,
                text_len,
            }
        }
    }
}

/// Compiles a regular expression given as a string literal at `col`.
pub(super) fn compile_regex(pattern: &str, col: usize) -> Result<Regex, ExprError> {
    Regex::new(pattern).map_err(|e| {
        err(
            col,
            format!("invalid regular expression: {}", one_line(&e.to_string())),
        )
    })
}

fn regex_literal(lit: &StrLit, col: usize) -> Result<Regex, ExprError> {
    match lit.plain() {
        Some(p) => compile_regex(&p, col),
        None => Err(err(
            col,
            "a regular expression cannot use ${…}; write it in '…' (raw), or escape the dollar as \\$",
        )),
    }
}

/// The regex crate's syntax errors span several lines, with the pattern and a caret drawing;
/// keep only what is wrong (the pattern is in the expression already).
fn one_line(s: &str) -> String {
    if let Some(what) = s
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
    {
        return what.to_owned();
    }
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
