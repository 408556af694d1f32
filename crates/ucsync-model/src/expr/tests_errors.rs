//! What fails to compile, where, and with what advice; and that evaluation never panics.

use super::tests::obj;
use super::{Expr, ExprError, Lookup};

fn fails(src: &str) -> ExprError {
    match Expr::compile(src) {
        Ok(_) => panic!("`{src}` compiled but should not"),
        Err(e) => e,
    }
}

/// Asserts the column of the error and that its message contains every `needle`.
fn check(src: &str, column: usize, needles: &[&str]) {
    let e = fails(src);
    assert_eq!(e.column, column, "column for `{src}`: {e}");
    for n in needles {
        assert!(
            e.message.contains(n),
            "message for `{src}` lacks {n:?}: {e}"
        );
    }
}

#[test]
fn display_names_the_column() {
    let e = fails("a = b");
    assert!(
        e.to_string().starts_with("at column 3: unexpected `=`"),
        "{e}"
    );
}

#[test]
fn empty_expressions() {
    check("", 1, &["empty expression"]);
    check("   \n", 1, &["empty expression"]);
}

#[test]
fn unknown_functions_list_the_known_ones() {
    check(
        "lowr(x)",
        1,
        &[
            "unknown function `lowr`",
            "coalesce, concat, digits, empty, first, if, join, left, lower, present, replace, rewrite_domain, split, trim, upper",
        ],
    );
    check("x == Lower(x)", 6, &["did you mean lower?"]);
    check("\"Ännä\" == lowr(x)", 11, &["unknown function"]);
}

#[test]
fn argument_counts() {
    check(
        "x == lower(a, b)",
        6,
        &["lower() takes 1 argument, got 2", "lower(x)"],
    );
    check("lower()", 1, &["takes 1 argument, got 0"]);
    check("coalesce()", 1, &["at least 1 argument, got 0"]);
    check("concat()", 1, &["at least 1 argument, got 0"]);
    check("rewrite_domain(x)", 1, &["2 or 3 arguments, got 1"]);
    check(
        "rewrite_domain(x, 'a', 'b', 'c')",
        1,
        &["2 or 3 arguments, got 4"],
    );
    check(
        "if(a, b)",
        1,
        &["3 arguments, got 2", "if(condition, then, else)"],
    );
    check("replace(x, 'a')", 1, &["3 arguments, got 2"]);
    check("left(x)", 1, &["2 arguments, got 1"]);
    check("present(a, b)", 1, &["1 argument, got 2"]);
}

#[test]
fn regular_expressions_are_checked() {
    check(
        "x =~ '[a-'",
        6,
        &["invalid regular expression", "unclosed character class"],
    );
    check("x =~ y", 6, &["string literal", "found `y`"]);
    check("x !~ lower(y)", 6, &["string literal"]);
    check("x =~ \"${y}\"", 6, &["cannot use ${…}"]);
    check("replace(x, '(', 'y')", 12, &["invalid regular expression"]);
    check(
        "replace(x, y, 'z')",
        12,
        &["regular expression of replace() must be a string literal"],
    );
    let e = fails("x =~ '(a'");
    assert!(!e.message.contains('\n'), "one line: {e}");
}

#[test]
fn replacements_are_checked() {
    check("replace(x, 'a', \"${name}\")", 17, &["'${1}'", "\\${1}"]);
    check(
        "replace(x, 'a', \"${1}\")",
        18,
        &["not an attribute name", "'${1}'"],
    );
    check("replace(x, '(a)', '$2')", 19, &["$2", "1 numbered group"]);
    check("replace(x, '(a)', '$1b')", 19, &["$1b", "${1}text"]);
    check(
        "replace(x, '(?P<n>a)', '${m}')",
        24,
        &["${m}", "named groups n"],
    );
    check(
        "replace(x, 'a', y)",
        17,
        &["replacement of replace() must be a string literal"],
    );
    assert!(Expr::compile("replace(x, '(a)(?P<n>b)', '$1 ${2} $n ${n} $$ $ ${')").is_ok());
}

#[test]
fn literal_arguments() {
    check("split(x, '')", 10, &["cannot be empty"]);
    check(
        "split(x, y)",
        10,
        &["separator of split() must be a string literal"],
    );
    check(
        "join(x, \"${y}\")",
        9,
        &["separator of join() must be a literal"],
    );
    check("join(x, lower(y))", 9, &["must be a string literal"]);
    check("left(x, y)", 9, &["whole number"]);
    check("left(x, '3')", 9, &["whole number"]);
    check("left(x, 99999999999999999999999)", 9, &["too large"]);
    check(
        "rewrite_domain(x, y)",
        19,
        &["domain given to rewrite_domain() must be a string literal"],
    );
    check("rewrite_domain(x, 'a@b')", 19, &["without @"]);
    check("rewrite_domain(x, 'a.com', '')", 28, &["not empty"]);
    check(
        "bit(userAccountControl, 3)",
        25,
        &[
            "bit()",
            "the flag 3 is not a power of two",
            "2 for ACCOUNTDISABLE",
        ],
    );
    check("bit(x, 0)", 8, &["bit()", "flag 0 is not a power of two"]);
    check(
        "bit(x, 18446744073709551616)",
        8,
        &["bit()", "not a power of two"],
    );
    check(
        "bit(x, y)",
        8,
        &["flag given to bit() must be a whole number"],
    );
    check(
        "bit(x, '2')",
        8,
        &["flag given to bit() must be a whole number"],
    );
    check(
        "bit('disabled', 2)",
        5,
        &["bit()", "\"disabled\" is not one"],
    );
    check(
        "bit(x)",
        1,
        &[
            "bit() takes 2 arguments, got 1",
            "bit(userAccountControl, 2)",
        ],
    );
}

#[test]
fn structure_errors() {
    check(
        "(a == b",
        8,
        &["expected `)` to close the `(` at column 1", "the end"],
    );
    check("a == b)", 7, &["unmatched `)`"]);
    check("a b", 3, &["unexpected `b` after a complete expression"]);
    check("a, b", 2, &["unexpected `,`"]);
    check("a == b == c", 8, &["do not chain"]);
    check("a =~ 'x' != c", 10, &["do not chain"]);
    check(
        "a and",
        6,
        &["expected a value", "the end of the expression"],
    );
    check("a ==", 5, &["expected a value"]);
    check("and == x", 1, &["found `and`"]);
    check(
        "lower(x",
        8,
        &["expected `,` or `)` in the arguments of lower()"],
    );
    check("lower(x,)", 9, &["expected a value", "found `)`"]);
    check("()", 2, &["expected a value"]);
    check("not", 4, &["expected a value"]);
}

#[test]
fn lexical_errors() {
    check("a = b", 3, &["`==`"]);
    check("a && b", 3, &["`and`"]);
    check("a || b", 3, &["`or`"]);
    check("!a", 1, &["`not`"]);
    check("x == 'abc", 6, &["unterminated string"]);
    check("x == \"abc", 6, &["unterminated string"]);
    check("`State/Prov", 1, &["unterminated attribute name"]);
    check("x == \"a\\d\"", 8, &["unknown escape `\\d`"]);
    check("\"${ name}\"", 2, &["not an attribute name"]);
    check("Ärger == x", 1, &["backticks"]);
    check("x == 1 # comment", 8, &["unexpected character `#`"]);
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}a{}", "(".repeat(70), ")".repeat(70));
    check(&deep, 65, &["nested too deeply"]);
    let nots = format!("{}a", "not ".repeat(70));
    check(&nots, 64 * 4 + 1, &["nested too deeply"]);
    let calls = format!("{}a{}", "lower(".repeat(70), ")".repeat(70));
    check(&calls, 64 * 6 + 1, &["nested too deeply"]);
    let ok = format!("{}a{}", "(".repeat(60), ")".repeat(60));
    assert!(Expr::compile(&ok).is_ok());
}

/// A small xorshift generator: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const VALUES: &[&str] = &[
    "",
    " ",
    "Ännä",
    "a@b.com",
    "x@Y.ORG",
    "+49 (30) 1",
    "a;b;;c",
    "😀😀",
    "\u{0}",
    "ß",
    "@",
    "Sales",
    "true",
];
const NAMES: &[&str] = &["a", "b", "mail", "sn", "x-y", "missing"];

struct Raw(Vec<(String, Vec<String>)>);

impl Lookup for Raw {
    fn values(&self, name: &str) -> &[String] {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

fn random_object(rng: &mut Rng) -> Raw {
    let mut attrs = Vec::new();
    for name in NAMES {
        if *name == "missing" || rng.below(4) == 0 {
            continue;
        }
        let n = 1 + rng.below(3);
        attrs.push((
            (*name).to_owned(),
            (0..n).map(|_| rng.pick(VALUES).to_owned()).collect(),
        ));
    }
    Raw(attrs)
}

/// Runs every entry point; a panic fails the test.
fn exercise(e: &Expr, objects: &[Raw]) {
    for o in objects {
        let values = e.eval(o);
        let truth = e.eval_bool(o);
        if e.is_boolean() {
            assert_eq!(values, [truth.to_string()], "`{}`", e.source());
        } else {
            // A condition passed through if(), first() or coalesce() keeps its own truth.
            let passed_through = values == ["false"] && !truth;
            let has_value = values.iter().any(|v| !v.is_empty());
            assert!(passed_through || truth == has_value, "`{}`", e.source());
        }
    }
    let _ = e.attributes();
}

#[test]
fn random_text_never_panics() {
    const FRAGMENTS: &[&str] = &[
        "a",
        "mail",
        "`x y`",
        "`",
        "\"",
        "'",
        "${",
        "${a}",
        "}",
        "(",
        ")",
        ",",
        "==",
        "!=",
        "=~",
        "!~",
        "=",
        "!",
        "and",
        "or",
        "not",
        "true",
        "false",
        "lower",
        "upper",
        "trim",
        "replace",
        "left",
        "split",
        "join",
        "coalesce",
        "if",
        "concat",
        "digits",
        "rewrite_domain",
        "first",
        "present",
        "empty",
        " ",
        "\n",
        "0",
        "3",
        "99999999999999999999",
        "Ä",
        "😀",
        "\\",
        "$",
        "@",
        "'.*'",
        "'('",
        "'$1'",
        "\";\"",
        "'acme.com'",
        "\"\\n\"",
        "\"\\q\"",
        "#",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let objects: Vec<Raw> = (0..4).map(|_| random_object(&mut rng)).collect();
    let mut compiled = 0;
    for _ in 0..20_000 {
        let n = 1 + rng.below(12);
        let src: String = (0..n).map(|_| rng.pick(FRAGMENTS)).collect();
        match Expr::compile(&src) {
            Ok(e) => {
                compiled += 1;
                exercise(&e, &objects);
            }
            Err(e) => {
                let max = src.chars().count() + 1;
                assert!(
                    (1..=max).contains(&e.column),
                    "`{src}`: column {} outside 1..={max}",
                    e.column
                );
                assert!(!e.message.is_empty());
            }
        }
    }
    assert!(compiled > 100, "only {compiled} random texts compiled");
}

/// A random expression that must compile.
fn valid(rng: &mut Rng, depth: usize) -> String {
    let leaf = depth == 0 || rng.below(3) == 0;
    if leaf {
        return match rng.below(6) {
            0 => format!(
                "\"{}\"",
                rng.pick(&[
                    "x",
                    "Ä ${a}",
                    "${sn}, ${missing}",
                    "${a}${b}",
                    "",
                    " ${missing} "
                ])
            ),
            1 => format!("'{}'", rng.pick(&["raw", "${a}", "a\\'b"])),
            2 => rng.pick(&["0", "7", "true", "false"]).to_owned(),
            3 => "`x y`".to_owned(),
            _ => rng.pick(NAMES).to_owned(),
        };
    }
    let d = depth - 1;
    let mut v = || valid(rng, d);
    let a = v();
    let b = v();
    let c = v();
    match rng.below(23) {
        0 => format!("({a}) == ({b})"),
        1 => format!("({a}) != ({b})"),
        2 => format!("({a}) =~ '^[a-z]+@'"),
        3 => format!("({a}) !~ '(?i)sales'"),
        4 => format!("({a}) and ({b})"),
        5 => format!("({a} or {b})"),
        6 => format!("not ({a})"),
        7 => format!("lower({a})"),
        8 => format!("upper(trim({a}))"),
        9 => format!("replace({a}, '(.)(.)', '${{2}}$1')"),
        10 => format!("rewrite_domain({a}, 'acme.com')"),
        11 => format!("rewrite_domain({a}, 'B.COM', 'acme.com')"),
        12 => format!("split({a}, ';')"),
        13 => format!("join({a}, ', ')"),
        14 => format!("first({a})"),
        15 => format!("coalesce({a}, {b}, {c})"),
        16 => format!("if({a}, {b}, {c})"),
        17 => format!("present({a})"),
        18 => format!("empty({a})"),
        19 => format!("left({a}, {})", rng.below(4)),
        20 => format!("concat({a}, {b}, {c})"),
        21 => format!(
            "bit({}, {})",
            rng.pick(NAMES),
            rng.pick(&["1", "2", "512", "2147483648"])
        ),
        _ => format!("digits({a})"),
    }
}

#[test]
fn random_valid_expressions_compile_and_evaluate() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let objects: Vec<Raw> = (0..6).map(|_| random_object(&mut rng)).collect();
    let mut with_fixed = objects;
    with_fixed.push(Raw(vec![]));
    for _ in 0..3_000 {
        let depth = 1 + rng.below(4);
        let src = valid(&mut rng, depth);
        let e = Expr::compile(&src).unwrap_or_else(|err| panic!("`{src}`: {err}"));
        exercise(&e, &with_fixed);
    }
    let a = obj(&[("a", &["x"])]);
    assert!(Expr::compile("present(a)").unwrap().eval_bool(&a));
}
