//! The expression language of rules: import and export flows, scope filters and join keys.
//!
//! This module owns the language — its syntax, its compile-time checks and its evaluation over
//! the values of one object, seen through [`Lookup`]. It knows nothing of connectors, the store
//! or the engine: it is handed attribute values and gives back values or a yes/no.
//!
//! An expression is compiled once (when the configuration is loaded) and evaluated for every
//! object of a run. Everything that can be wrong — syntax, unknown functions, argument counts,
//! regular expressions, replacement groups — is reported by [`Expr::compile`] with the column
//! where it is; evaluating never fails and never panics.
//!
//! # The language
//!
//! Every expression yields a list of string values (attributes are multi-valued); an empty list
//! means "no value".
//!
//! - `mail`, `` `State/Prov` ``: the values of an attribute (names outside
//!   `[A-Za-z_][A-Za-z0-9_-]*` go in backticks).
//! - `"text"`: a string with the escapes `\" \\ \n \t \$` and templates: `"${givenName} ${sn}"`
//!   uses the first value of each attribute (absent = ""); it has no value when every attribute
//!   it names is absent, or when the result is only whitespace. `'text'` is raw: only `\'` and
//!   `\\` are escapes, and `${…}` is plain text. A run of digits is a number-like constant.
//! - `==` / `!=`: whether any value on the left equals any value on the right (an absent side
//!   counts as ""); `=~` / `!~`: whether any value matches a regular expression, which must be a
//!   string literal.
//! - `and`, `or`, `not`, `true`, `false`, parentheses. Precedence, tightest first: the
//!   comparisons, `not`, `and`, `or`, as in most languages: `not a == b` is `not (a == b)`.
//!   Comparisons do not chain.
//! - functions (each maps over every value unless said otherwise; values a function makes empty
//!   are dropped): `lower(x)`, `upper(x)`, `trim(x)`, `replace(x, 'regex', 'replacement')`,
//!   `rewrite_domain(x, "new.example")`, `rewrite_domain(x, "old.example", "new.example")`,
//!   `split(x, ";")`, `join(x, ", ")`, `first(x)`, `coalesce(a, b, …)`, `if(cond, a, b)`,
//!   `present(x)`, `empty(x)`, `left(x, n)`, `concat(a, b, …)`, `digits(x)`, and the condition
//!   `bit(x, flag)`: true when a value of `x` is a whole number with the bit `flag` set (`flag`
//!   is the flag's value, a power of two written out: `bit(userAccountControl, 2)` is "account
//!   disabled"). An absent `x`, or values that are not whole numbers, make it false; a literal
//!   `x` that is not a whole number, or a `flag` that is not a power of two, does not compile.
//!
//! A condition used as a value reads "true" or "false"; a value used as a condition is true when
//! it has at least one non-empty value. A condition passed through `if()`, `first()` or
//! `coalesce()` keeps its own truth, so `if(c, true, false)` is as true as `c`.

mod eval;
mod functions;
mod lexer;
mod parse;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Where an expression reads attribute values from.
pub trait Lookup {
    /// The values of `name`; empty when the attribute is absent.
    fn values(&self, name: &str) -> &[String];
}

impl Lookup for crate::attrs::Attrs {
    fn values(&self, name: &str) -> &[String] {
        self.get(name)
    }
}

/// Why an expression did not compile, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: {message}")]
pub struct ExprError {
    /// 1-based position, in characters, in the expression's source.
    pub column: usize,
    pub message: String,
}

/// A compiled expression. Cheap to evaluate, safe to share between threads.
#[derive(Debug, Clone)]
pub struct Expr {
    src: String,
    root: parse::Node,
    attributes: BTreeSet<String>,
}

impl Expr {
    /// Parses and checks `src`, compiling its regular expressions.
    pub fn compile(src: &str) -> Result<Expr, ExprError> {
        let tokens = lexer::lex(src)?;
        let root = parse::parse(tokens, src.chars().count())?;
        let mut attributes = BTreeSet::new();
        root.collect_attributes(&mut attributes);
        Ok(Expr {
            src: src.to_owned(),
            root,
            attributes,
        })
    }

    /// The text the expression was compiled from.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// True when the expression is a condition at its top: a comparison, `and`, `or`, `not`,
    /// `present()`, `empty()`, `bit()`, `true` or `false`.
    pub fn is_boolean(&self) -> bool {
        self.root.is_boolean()
    }

    /// The attribute the expression copies, when it is nothing but an attribute (`member`).
    pub fn attribute(&self) -> Option<&str> {
        match &self.root {
            parse::Node::Attr(name) => Some(name),
            _ => None,
        }
    }

    /// Every attribute name the expression reads.
    pub fn attributes(&self) -> BTreeSet<String> {
        self.attributes.clone()
    }

    /// The values of the expression for one object; empty when it has none. A condition gives
    /// `["true"]` or `["false"]`.
    pub fn eval(&self, ctx: &dyn Lookup) -> Vec<String> {
        eval::eval(&self.root, ctx).into_strings()
    }

    /// The expression as a condition. A value expression is true when it yields at least one
    /// non-empty value.
    pub fn eval_bool(&self, ctx: &dyn Lookup) -> bool {
        eval::truth(&self.root, ctx)
    }
}

impl FromStr for Expr {
    type Err = ExprError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expr::compile(s)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

/// The names of the built-in functions, in alphabetical order (for help texts and editors).
pub fn function_names() -> impl Iterator<Item = &'static str> {
    functions::FUNCTIONS.iter().map(|f| f.name)
}
