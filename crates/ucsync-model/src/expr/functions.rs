//! The built-in functions: their names and argument counts (checked when an expression is
//! compiled), the compiled form of each call, and what each does to values. Arguments that must
//! be literals (regular expressions, separators, domains, lengths) are taken out of the source
//! here, once, so evaluating a call never parses or compiles anything.

use std::borrow::Cow;

use regex::Regex;

use super::ExprError;
use super::Lookup;
use super::eval::{Vals, eval, truth};
use super::parse::{Arg, Literal, Node, compile_regex};

/// A compiled function call.
#[derive(Debug, Clone)]
pub(super) enum Call {
    /// A function applied to every value on its own; empty results are dropped.
    Map(MapFn, Node),
    Split {
        arg: Node,
        sep: String,
    },
    Join {
        arg: Node,
        sep: String,
    },
    First(Node),
    Coalesce(Vec<Node>),
    Concat(Vec<Node>),
    If {
        cond: Node,
        then: Node,
        otherwise: Node,
    },
    Present(Node),
    Empty(Node),
    /// `bit(x, flag)`: whether a value of `x`, a whole number, has the bits of `flag` set.
    Bit {
        arg: Node,
        flag: u64,
    },
}

/// The functions that map every value to one value.
#[derive(Debug, Clone)]
pub(super) enum MapFn {
    Lower,
    Upper,
    Trim,
    Digits,
    Left(usize),
    Replace {
        re: Regex,
        with: String,
    },
    RewriteDomain {
        /// Only values in this domain (compared case-insensitively) are rewritten.
        from: Option<String>,
        to: String,
    },
}

/// Name and argument count of a function, for checking calls and for error messages.
pub(super) struct Spec {
    pub name: &'static str,
    pub min: usize,
    /// `usize::MAX`: any number.
    pub max: usize,
    pub usage: &'static str,
}

const MANY: usize = usize::MAX;

const fn spec(name: &'static str, min: usize, max: usize, usage: &'static str) -> Spec {
    Spec {
        name,
        min,
        max,
        usage,
    }
}

/// Every function, in alphabetical order.
#[rustfmt::skip]
pub(super) const FUNCTIONS: &[Spec] = &[
    spec("bit", 2, 2, "bit(x, flag), e.g. bit(userAccountControl, 2)"),
    spec("coalesce", 1, MANY, "coalesce(a, b, …)"),
    spec("concat", 1, MANY, "concat(a, b, …)"),
    spec("digits", 1, 1, "digits(x)"),
    spec("empty", 1, 1, "empty(x)"),
    spec("first", 1, 1, "first(x)"),
    spec("if", 3, 3, "if(condition, then, else)"),
    spec("join", 2, 2, "join(x, \", \")"),
    spec("left", 2, 2, "left(x, n)"),
    spec("lower", 1, 1, "lower(x)"),
    spec("present", 1, 1, "present(x)"),
    spec("replace", 3, 3, "replace(x, 'regex', 'replacement')"),
    spec("rewrite_domain", 2, 3,
        "rewrite_domain(x, \"new.example\") or rewrite_domain(x, \"old.example\", \"new.example\")"),
    spec("split", 2, 2, "split(x, \";\")"),
    spec("trim", 1, 1, "trim(x)"),
    spec("upper", 1, 1, "upper(x)"),
];

fn err(col: usize, message: impl Into<String>) -> ExprError {
    ExprError {
        column: col,
        message: message.into(),
    }
}

/// The function called `name`, or an error listing the known ones.
pub(super) fn lookup(name: &str, col: usize) -> Result<&'static Spec, ExprError> {
    if let Some(spec) = FUNCTIONS.iter().find(|f| f.name == name) {
        return Ok(spec);
    }
    let known = FUNCTIONS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ");
    let hint = FUNCTIONS
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| format!(" (names are lowercase: did you mean {}?)", f.name))
        .unwrap_or_default();
    Err(err(
        col,
        format!("unknown function `{name}`{hint}; the functions are {known}"),
    ))
}

fn check_arity(spec: &Spec, got: usize, col: usize) -> Result<(), ExprError> {
    if got >= spec.min && got <= spec.max {
        return Ok(());
    }
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let expected = if spec.max == MANY {
        format!("at least {} {}", spec.min, plural(spec.min))
    } else if spec.min == spec.max {
        format!("{} {}", spec.min, plural(spec.min))
    } else {
        format!("{} or {} arguments", spec.min, spec.max)
    };
    Err(err(
        col,
        format!(
            "{}() takes {expected}, got {got}; write {}",
            spec.name, spec.usage
        ),
    ))
}

/// Compiles a call of `name` (at `col`) with its parsed arguments.
pub(super) fn build(name: &str, col: usize, args: Vec<Arg>) -> Result<Call, ExprError> {
    let spec = lookup(name, col)?;
    check_arity(spec, args.len(), col)?;
    let mut it = args.into_iter();
    let mut take = || {
        it.next()
            .ok_or_else(|| err(col, format!("{name}(): missing argument: {}", spec.usage)))
    };
    let call = match spec.name {
        "lower" => Call::Map(MapFn::Lower, take()?.node),
        "upper" => Call::Map(MapFn::Upper, take()?.node),
        "trim" => Call::Map(MapFn::Trim, take()?.node),
        "digits" => Call::Map(MapFn::Digits, take()?.node),
        "first" => Call::First(take()?.node),
        "present" => Call::Present(take()?.node),
        "empty" => Call::Empty(take()?.node),
        "bit" => {
            let x = take()?;
            if let Literal::Str(v) | Literal::Int(v) = &x.literal
                && flags(v).is_none()
            {
                return Err(err(
                    x.col,
                    format!(
                        "bit() tests a whole number, and \"{v}\" is not one; write e.g. bit(userAccountControl, 2)"
                    ),
                ));
            }
            let n = take()?;
            let Literal::Int(digits) = &n.literal else {
                return Err(err(
                    n.col,
                    "the flag given to bit() must be a whole number written out, e.g. bit(userAccountControl, 2)",
                ));
            };
            let flag = digits
                .parse::<u64>()
                .ok()
                .filter(|f| f.is_power_of_two())
                .ok_or_else(|| {
                    err(
                        n.col,
                        format!(
                            "bit(): the flag {digits} is not a power of two (1, 2, 4, 8, … 9223372036854775808); give the value of one flag, e.g. 2 for ACCOUNTDISABLE"
                        ),
                    )
                })?;
            Call::Bit { arg: x.node, flag }
        }
        "left" => {
            let x = take()?.node;
            let n = take()?;
            let Literal::Int(digits) = &n.literal else {
                return Err(err(
                    n.col,
                    "the length given to left() must be a whole number written out, e.g. left(x, 3)",
                ));
            };
            let n = digits
                .parse::<usize>()
                .map_err(|_| err(n.col, format!("left(): {digits} is too large a length")))?;
            Call::Map(MapFn::Left(n), x)
        }
        "replace" => {
            let x = take()?.node;
            let re_arg = take()?;
            let pattern = literal_str(&re_arg, "the regular expression of replace()")?;
            let re = compile_regex(&pattern, re_arg.col)?;
            let with_arg = take()?;
            if with_arg.literal == Literal::Template {
                return Err(err(
                    with_arg.col,
                    "the replacement of replace() is a literal, and \"…\" with ${…} would read attributes; to refer to groups write it in '…', e.g. '${1}', or escape the dollar: \"\\${1}\"",
                ));
            }
            let with = literal_str(&with_arg, "the replacement of replace()")?;
            check_replacement(&re, &with, with_arg.col)?;
            Call::Map(MapFn::Replace { re, with }, x)
        }
        "rewrite_domain" => {
            let x = take()?.node;
            let first = take()?;
            let first_domain = domain(&first)?;
            let call = match it.next() {
                None => MapFn::RewriteDomain {
                    from: None,
                    to: first_domain,
                },
                Some(second) => MapFn::RewriteDomain {
                    from: Some(first_domain),
                    to: domain(&second)?,
                },
            };
            Call::Map(call, x)
        }
        "split" => {
            let arg = take()?.node;
            let sep_arg = take()?;
            let sep = literal_str(&sep_arg, "the separator of split()")?;
            if sep.is_empty() {
                return Err(err(sep_arg.col, "the separator of split() cannot be empty"));
            }
            Call::Split { arg, sep }
        }
        "join" => {
            let arg = take()?.node;
            let sep = literal_str(&take()?, "the separator of join()")?;
            Call::Join { arg, sep }
        }
        "coalesce" => Call::Coalesce(it.map(|a| a.node).collect()),
        "concat" => Call::Concat(it.map(|a| a.node).collect()),
        "if" => Call::If {
            cond: take()?.node,
            then: take()?.node,
            otherwise: take()?.node,
        },
        other => {
            return Err(err(
                col,
                format!("function {other}() has no implementation"),
            ));
        }
    };
    Ok(call)
}

/// The text of an argument that must be a literal.
fn literal_str(arg: &Arg, what: &str) -> Result<String, ExprError> {
    match &arg.literal {
        Literal::Str(s) | Literal::Int(s) => Ok(s.clone()),
        Literal::Template => Err(err(
            arg.col,
            format!(
                "{what} must be a literal; \"…\" with ${{…}} reads attributes: write it in '…', or escape the dollar as \\$"
            ),
        )),
        Literal::No => Err(err(
            arg.col,
            format!(
                "{what} must be a string literal (\"…\" or '…'), not an attribute or an expression"
            ),
        )),
    }
}

fn domain(arg: &Arg) -> Result<String, ExprError> {
    let d = literal_str(arg, "the domain given to rewrite_domain()")?;
    if d.is_empty() || d.contains('@') {
        return Err(err(
            arg.col,
            format!(
                "rewrite_domain() needs a domain such as \"example.com\" (not empty, without @), got \"{d}\""
            ),
        ));
    }
    Ok(d)
}

/// Checks that every `$group` / `${group}` in a replacement names a group of `re`, as the regex
/// crate would read it (a longest run of `[_0-9A-Za-z]` after a bare `$`; `$$` is a dollar).
fn check_replacement(re: &Regex, with: &str, col: usize) -> Result<(), ExprError> {
    let mut rest = with;
    while let Some(i) = rest.find('$') {
        let after = rest.get(i + 1..).unwrap_or("");
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
            continue;
        }
        let (name, braced, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (
                    inner.get(..end).unwrap_or(""),
                    true,
                    inner.get(end + 1..).unwrap_or(""),
                ),
                None => ("", true, inner),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (
                after.get(..end).unwrap_or(""),
                false,
                after.get(end..).unwrap_or(""),
            )
        };
        rest = tail;
        if name.is_empty() {
            continue;
        }
        let known = match name.parse::<usize>() {
            Ok(n) => n < re.captures_len(),
            Err(_) => re.capture_names().flatten().any(|g| g == name),
        };
        if !known {
            let groups = re.captures_len() - 1;
            let shown = if braced {
                format!("${{{name}}}")
            } else {
                format!("${name}")
            };
            let mut message = format!(
                "the replacement refers to {shown}, which is not a group of the regular expression (it has {groups} numbered group{}",
                if groups == 1 { "" } else { "s" }
            );
            let names: Vec<&str> = re.capture_names().flatten().collect();
            if !names.is_empty() {
                message.push_str(&format!(" and the named groups {}", names.join(", ")));
            }
            message.push(')');
            if !braced && name.starts_with(|c: char| c.is_ascii_digit()) {
                message.push_str("; to put text right after a group write ${1}text");
            }
            message.push_str("; write $$ for a literal dollar sign");
            return Err(err(col, message));
        }
    }
    Ok(())
}

impl Call {
    pub fn is_boolean(&self) -> bool {
        matches!(self, Call::Present(_) | Call::Empty(_) | Call::Bit { .. })
    }

    pub fn for_each_arg<'s>(&'s self, f: &mut dyn FnMut(&'s Node)) {
        match self {
            Call::Map(_, a)
            | Call::Split { arg: a, .. }
            | Call::Join { arg: a, .. }
            | Call::First(a)
            | Call::Present(a)
            | Call::Empty(a)
            | Call::Bit { arg: a, .. } => f(a),
            Call::Coalesce(v) | Call::Concat(v) => v.iter().for_each(f),
            Call::If {
                cond,
                then,
                otherwise,
            } => {
                f(cond);
                f(then);
                f(otherwise);
            }
        }
    }

    pub fn eval<'a>(&'a self, ctx: &'a dyn Lookup) -> Vals<'a> {
        match self {
            Call::Map(f, arg) => eval(arg, ctx).map_with(f),
            Call::Split { arg, sep } => split(eval(arg, ctx), sep),
            Call::Join { arg, sep } => {
                let vals = eval(arg, ctx);
                if vals.is_empty() {
                    return Vals::none();
                }
                let mut out = String::with_capacity(vals.iter().map(|s| s.len() + sep.len()).sum());
                for (i, s) in vals.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    out.push_str(s);
                }
                Vals::one(out)
            }
            Call::First(arg) => eval(arg, ctx).first_only(),
            Call::Coalesce(args) => {
                for a in args {
                    let vals = eval(a, ctx);
                    if vals.has_value() {
                        return vals;
                    }
                }
                Vals::none()
            }
            Call::Concat(args) => {
                let mut out = String::new();
                let mut any = false;
                for a in args {
                    if let Some(s) = eval(a, ctx).first() {
                        any = true;
                        out.push_str(s);
                    }
                }
                if any { Vals::one(out) } else { Vals::none() }
            }
            Call::If {
                cond,
                then,
                otherwise,
            } => {
                if truth(cond, ctx) {
                    eval(then, ctx)
                } else {
                    eval(otherwise, ctx)
                }
            }
            Call::Present(_) | Call::Empty(_) | Call::Bit { .. } => Vals::Bool(self.truth(ctx)),
        }
    }

    pub fn truth(&self, ctx: &dyn Lookup) -> bool {
        match self {
            Call::Present(a) => eval(a, ctx).has_value(),
            Call::Empty(a) => !eval(a, ctx).has_value(),
            Call::Bit { arg, flag } => eval(arg, ctx)
                .iter()
                .any(|v| flags(v).is_some_and(|bits| bits & flag != 0)),
            _ => self.eval(ctx).truthy(),
        }
    }
}

/// The bits of a whole number written in decimal: a negative one (Active Directory's
/// `groupType` is a signed 32-bit number) as its 64-bit two's complement, so its sign bit is
/// `2147483648` and every higher bit too. `None` for anything else.
fn flags(v: &str) -> Option<u64> {
    let v = v.trim();
    match v.strip_prefix('-') {
        Some(_) => v.parse::<i64>().ok().map(|n| n as u64),
        None => v.strip_prefix('+').unwrap_or(v).parse::<u64>().ok(),
    }
}

/// `split`: every value cut on `sep`, pieces trimmed, empty pieces dropped.
fn split<'a>(vals: Vals<'a>, sep: &str) -> Vals<'a> {
    let mut out = Vec::new();
    for v in vals.into_cows() {
        match v {
            Cow::Borrowed(s) => out.extend(
                s.split(sep)
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(Cow::Borrowed),
            ),
            Cow::Owned(s) => out.extend(
                s.split(sep)
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Cow::Owned(p.to_owned())),
            ),
        }
    }
    Vals::List(out)
}

impl MapFn {
    /// The function applied to one value. A borrowed result is always `s` or a part of it.
    pub fn apply<'s>(&self, s: &'s str) -> Cow<'s, str> {
        match self {
            MapFn::Lower => lower(s),
            MapFn::Upper => upper(s),
            MapFn::Trim => Cow::Borrowed(s.trim()),
            MapFn::Digits => digits(s),
            MapFn::Left(n) => match s.char_indices().nth(*n) {
                Some((end, _)) => Cow::Borrowed(s.get(..end).unwrap_or(s)),
                None => Cow::Borrowed(s),
            },
            MapFn::Replace { re, with } => re.replace_all(s, with.as_str()),
            MapFn::RewriteDomain { from, to } => rewrite_domain(s, from.as_deref(), to),
        }
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    let unchanged = if s.is_ascii() {
        !s.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        s.chars().all(|c| c.to_lowercase().eq(std::iter::once(c)))
    };
    if unchanged {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn upper(s: &str) -> Cow<'_, str> {
    let unchanged = if s.is_ascii() {
        !s.bytes().any(|b| b.is_ascii_lowercase())
    } else {
        s.chars().all(|c| c.to_uppercase().eq(std::iter::once(c)))
    };
    if unchanged {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_uppercase())
    }
}

/// ASCII digits, and one `+` if it comes before the first digit. No digit at all: no value.
fn digits(s: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(s.len());
    let mut plus = false;
    let mut any_digit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            out.push(c);
            any_digit = true;
        } else if c == '+' && !plus && !any_digit {
            out.push(c);
            plus = true;
        }
    }
    if !any_digit {
        Cow::Borrowed("")
    } else if out.len() == s.len() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    }
}

fn rewrite_domain<'s>(s: &'s str, from: Option<&str>, to: &str) -> Cow<'s, str> {
    let Some((local, current)) = s.rsplit_once('@') else {
        return Cow::Borrowed(s);
    };
    if let Some(from) = from {
        let same = current
            .chars()
            .flat_map(char::to_lowercase)
            .eq(from.chars().flat_map(char::to_lowercase));
        if !same {
            return Cow::Borrowed(s);
        }
    }
    if current == to {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(local.len() + 1 + to.len());
    out.push_str(local);
    out.push('@');
    out.push_str(to);
    Cow::Owned(out)
}
