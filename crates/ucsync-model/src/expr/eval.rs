//! Evaluates a compiled expression against the values of one object. Values flow as [`Vals`]:
//! an attribute or a literal is lent as a slice, function results are copy-on-write pieces that
//! still point into the object where they can, and conditions stay plain `bool`s. Strings are
//! only copied when a function changes them and, once, when the public API hands back a
//! `Vec<String>`. Nothing here can fail: every check was made when the expression was compiled.

use std::borrow::Cow;

use super::Lookup;
use super::functions::MapFn;
use super::lexer::Part;
use super::parse::Node;

/// The values of a sub-expression while it is being evaluated.
#[derive(Debug)]
pub(super) enum Vals<'a> {
    /// An attribute's values or a literal, not copied.
    Slice(&'a [String]),
    /// Computed values; borrowed ones point into the object or the expression.
    List(Vec<Cow<'a, str>>),
    /// A condition; as values it reads "true" or "false".
    Bool(bool),
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

impl<'a> Vals<'a> {
    pub fn none() -> Self {
        Vals::List(Vec::new())
    }

    pub fn one(s: String) -> Self {
        Vals::List(vec![Cow::Owned(s)])
    }

    pub fn len(&self) -> usize {
        match self {
            Vals::Slice(s) => s.len(),
            Vals::List(v) => v.len(),
            Vals::Bool(_) => 1,
        }
    }

    /// No value at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// At least one value that is not the empty string.
    pub fn has_value(&self) -> bool {
        self.iter().any(|s| !s.is_empty())
    }

    /// As a condition: a condition's own result, otherwise [`Vals::has_value`]. So
    /// `if(c, true, false)` is false when `c` is, although "false" is a non-empty value.
    pub fn truthy(&self) -> bool {
        match self {
            Vals::Bool(b) => *b,
            _ => self.has_value(),
        }
    }

    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }

    pub fn iter(&self) -> ValsIter<'_> {
        match self {
            Vals::Slice(s) => ValsIter::Strings(s.iter()),
            Vals::List(v) => ValsIter::Cows(v.iter()),
            Vals::Bool(b) => ValsIter::One(Some(bool_str(*b))),
        }
    }

    /// The values, or a single empty string when there are none: comparisons treat an absent
    /// attribute as "".
    pub fn iter_or_blank(&self) -> ValsIter<'_> {
        if self.is_empty() {
            ValsIter::One(Some(""))
        } else {
            self.iter()
        }
    }

    /// The values as owned-or-borrowed strings, keeping borrows where there are.
    pub fn into_cows(self) -> IntoCows<'a> {
        match self {
            Vals::Slice(s) => IntoCows::Strings(s.iter()),
            Vals::List(v) => IntoCows::Cows(v.into_iter()),
            Vals::Bool(b) => IntoCows::One(Some(bool_str(b))),
        }
    }

    /// Only the first value.
    pub fn first_only(self) -> Self {
        match self {
            Vals::Slice(s) => Vals::Slice(s.get(..1).unwrap_or(s)),
            Vals::List(mut v) => {
                v.truncate(1);
                Vals::List(v)
            }
            b @ Vals::Bool(_) => b,
        }
    }

    /// `f` applied to every value; values it makes empty are dropped. A value `f` leaves alone
    /// is not copied.
    pub fn map_with(self, f: &MapFn) -> Self {
        let mut out = Vec::with_capacity(self.len());
        for item in self.into_cows() {
            let v = match item {
                Cow::Borrowed(s) => f.apply(s),
                Cow::Owned(s) => {
                    let changed = match f.apply(&s) {
                        Cow::Borrowed(r) if r.len() == s.len() => None,
                        r => Some(r.into_owned()),
                    };
                    Cow::Owned(changed.unwrap_or(s))
                }
            };
            if !v.is_empty() {
                out.push(v);
            }
        }
        Vals::List(out)
    }

    pub fn into_strings(self) -> Vec<String> {
        match self {
            Vals::Slice(s) => s.to_vec(),
            Vals::List(v) => v.into_iter().map(Cow::into_owned).collect(),
            Vals::Bool(b) => vec![bool_str(b).to_owned()],
        }
    }
}

/// Iterates the values of a [`Vals`] as `&str`.
pub(super) enum ValsIter<'s> {
    Strings(std::slice::Iter<'s, String>),
    Cows(std::slice::Iter<'s, Cow<'s, str>>),
    One(Option<&'static str>),
}

impl<'s> Iterator for ValsIter<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        match self {
            ValsIter::Strings(it) => it.next().map(String::as_str),
            ValsIter::Cows(it) => it.next().map(|c| c.as_ref()),
            ValsIter::One(v) => v.take(),
        }
    }
}

/// Consumes a [`Vals`] into `Cow`s.
pub(super) enum IntoCows<'a> {
    Strings(std::slice::Iter<'a, String>),
    Cows(std::vec::IntoIter<Cow<'a, str>>),
    One(Option<&'static str>),
}

impl<'a> Iterator for IntoCows<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Cow<'a, str>> {
        match self {
            IntoCows::Strings(it) => it.next().map(|s| Cow::Borrowed(s.as_str())),
            IntoCows::Cows(it) => it.next(),
            IntoCows::One(v) => v.take().map(Cow::Borrowed),
        }
    }
}

/// The values of `node`.
pub(super) fn eval<'a>(node: &'a Node, ctx: &'a dyn Lookup) -> Vals<'a> {
    match node {
        Node::Const(v) => Vals::Slice(v),
        Node::Attr(name) => Vals::Slice(ctx.values(name)),
        Node::Template { parts, text_len } => template(parts, *text_len, ctx),
        Node::Call(call) => call.eval(ctx),
        Node::Bool(_)
        | Node::Not(_)
        | Node::And(_)
        | Node::Or(_)
        | Node::Eq { .. }
        | Node::Match { .. } => Vals::Bool(truth(node, ctx)),
    }
}

/// `node` as a condition: a condition's own result, or for values, whether there is at least
/// one non-empty value (a condition passed through `if()`, `first()`, `coalesce()` keeps its
/// own truth).
pub(super) fn truth(node: &Node, ctx: &dyn Lookup) -> bool {
    match node {
        Node::Bool(b) => *b,
        Node::Not(inner) => !truth(inner, ctx),
        Node::And(all) => all.iter().all(|n| truth(n, ctx)),
        Node::Or(any) => any.iter().any(|n| truth(n, ctx)),
        Node::Eq {
            left,
            right,
            negate,
        } => {
            let (l, r) = (eval(left, ctx), eval(right, ctx));
            let equal = l.iter_or_blank().any(|a| r.iter_or_blank().any(|b| a == b));
            equal != *negate
        }
        Node::Match { left, re, negate } => {
            let matched = eval(left, ctx).iter_or_blank().any(|s| re.is_match(s));
            matched != *negate
        }
        Node::Call(call) => call.truth(ctx),
        Node::Const(_) | Node::Attr(_) | Node::Template { .. } => eval(node, ctx).truthy(),
    }
}

/// A `"…${name}…"` string: first values, absent ones as "". No value when every referenced
/// attribute is absent, or when the result is only whitespace.
fn template<'a>(parts: &'a [Part], text_len: usize, ctx: &'a dyn Lookup) -> Vals<'a> {
    let mut out = String::with_capacity(text_len + 24 * parts.len());
    let mut found = false;
    for p in parts {
        match p {
            Part::Text(t) => out.push_str(t),
            Part::Attr(name) => {
                if let Some(v) = ctx.values(name).first() {
                    found = true;
                    out.push_str(v);
                }
            }
        }
    }
    if !found || out.trim().is_empty() {
        Vals::none()
    } else {
        Vals::one(out)
    }
}
