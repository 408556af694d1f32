//! What expressions yield: values, templates, comparisons, precedence and every function.

use std::collections::{BTreeSet, HashMap};

use super::{Expr, Lookup};
use crate::attrs::Attrs;

pub(super) fn obj(pairs: &[(&str, &[&str])]) -> Attrs {
    let mut a = Attrs::new();
    for (name, values) in pairs {
        a.set(*name, values.iter().map(|v| (*v).to_owned()).collect());
    }
    a
}

fn ev(src: &str, ctx: &dyn Lookup) -> Vec<String> {
    Expr::compile(src)
        .unwrap_or_else(|e| panic!("`{src}` did not compile: {e}"))
        .eval(ctx)
}

fn yes(src: &str, ctx: &dyn Lookup) -> bool {
    Expr::compile(src)
        .unwrap_or_else(|e| panic!("`{src}` did not compile: {e}"))
        .eval_bool(ctx)
}

fn person() -> Attrs {
    obj(&[
        ("givenName", &["Ännä"]),
        ("sn", &["Müller"]),
        ("mail", &["Anna.Mueller@Domain.com", "anna@old.example"]),
        ("department", &["Sales"]),
        ("telephoneNumber", &["+49 (0) 30 1234-56"]),
        (
            "proxyAddresses",
            &["smtp:a@x.com; SMTP:b@x.com;;  ", "x500:/o=org"],
        ),
        ("State/Prov", &["BY"]),
        ("and", &["keyword-named"]),
    ])
}

/// A lookup that can hold empty strings, which `Attrs` drops.
struct Raw(HashMap<String, Vec<String>>);

impl Lookup for Raw {
    fn values(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn raw(pairs: &[(&str, &[&str])]) -> Raw {
    Raw(pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect())
}

#[test]
fn attributes_are_copied_with_all_their_values() {
    let p = person();
    assert_eq!(
        ev("mail", &p),
        ["Anna.Mueller@Domain.com", "anna@old.example"]
    );
    assert_eq!(ev("`State/Prov`", &p), ["BY"]);
    assert_eq!(ev("`and`", &p), ["keyword-named"]);
    assert!(ev("missing", &p).is_empty());
    assert!(ev("  ( ( sn ) )  ", &p) == ["Müller"]);
}

#[test]
fn literals_are_constants() {
    let p = person();
    assert_eq!(ev("\"Sales\"", &p), ["Sales"]);
    assert_eq!(ev("'raw ${x} \\n'", &p), ["raw ${x} \\n"]);
    assert_eq!(ev("\"\"", &p), [""]);
    assert_eq!(ev("42", &p), ["42"]);
    assert_eq!(
        ev("\"tab\\there\\nnext \\$ \\\" \\\\\"", &p),
        ["tab\there\nnext $ \" \\"]
    );
    assert_eq!(ev("true", &p), ["true"]);
    assert_eq!(ev("false", &p), ["false"]);
}

#[test]
fn templates_use_first_values_and_treat_absent_as_empty() {
    let p = person();
    assert_eq!(ev("\"${givenName} ${sn}\"", &p), ["Ännä Müller"]);
    assert_eq!(ev("\"<${mail}>\"", &p), ["<Anna.Mueller@Domain.com>"]);
    let only_sn = obj(&[("sn", &["Müller"])]);
    assert_eq!(
        ev("\"${givenName} ${sn}\"", &only_sn),
        [" Müller"],
        "not trimmed"
    );
    assert_eq!(ev("\"${sn}, ${givenName}\"", &only_sn), ["Müller, "]);
    assert!(
        ev("\"${givenName} ${sn}\"", &Attrs::new()).is_empty(),
        "all absent"
    );
    assert!(
        ev("\"Dr. ${givenName}\"", &Attrs::new()).is_empty(),
        "all absent with text"
    );
    let blank = raw(&[("givenName", &[" "]), ("sn", &[""])]);
    assert!(
        ev("\"${givenName} ${sn}\"", &blank).is_empty(),
        "whitespace only"
    );
    assert_eq!(ev("\"\\${sn}\"", &only_sn), ["${sn}"], "escaped dollar");
    assert_eq!(ev("\"${sn}${sn}\"", &only_sn), ["MüllerMüller"]);
    assert_eq!(ev("\"cost: $5 ${sn}\"", &only_sn), ["cost: $5 Müller"]);
}

#[test]
fn equality_is_any_value_against_any_value() {
    let p = person();
    assert!(
        yes("mail == \"anna@old.example\"", &p),
        "second value matches"
    );
    assert!(!yes("mail != \"anna@old.example\"", &p));
    assert!(yes("mail != \"nobody@x\"", &p));
    assert!(yes("\"Sales\" == department", &p));
    assert!(!yes("department == \"sales\"", &p), "case-sensitive");
    let two = obj(&[("a", &["1", "2"]), ("b", &["3", "2"]), ("c", &["9"])]);
    assert!(yes("a == b", &two));
    assert!(!yes("a == c", &two));
    assert!(yes("a != c", &two));
    assert!(yes("a == 2", &two), "number literal compares as text");
}

#[test]
fn absent_compares_equal_to_empty() {
    let none = Attrs::new();
    assert!(yes("missing == \"\"", &none));
    assert!(yes("\"\" == missing", &none));
    assert!(yes("missing == other", &none));
    assert!(!yes("missing != \"\"", &none));
    assert!(yes("missing != \"x\"", &none));
    assert!(!yes("missing == \"x\"", &none));
    let p = person();
    assert!(!yes("department == \"\"", &p));
    assert!(yes("department != missing", &p));
}

#[test]
fn regex_matches_any_value() {
    let p = person();
    assert!(yes("mail =~ '@old\\.example$'", &p));
    assert!(!yes("mail !~ '@old\\.example$'", &p));
    assert!(yes("mail !~ '^x'", &p));
    assert!(!yes("mail =~ '^x'", &p));
    assert!(yes("givenName =~ \"^Ä\"", &p), "unicode");
    assert!(
        yes("missing =~ '^$'", &p),
        "absent matches as the empty string"
    );
    assert!(yes("missing !~ '@'", &p));
    assert!(yes("lower(mail) =~ '^anna\\.'", &p));
}

#[test]
fn conditions_and_precedence() {
    let p = person();
    assert!(yes("department == \"Sales\" and present(mail)", &p));
    assert!(!yes("department == \"Sales\" and empty(mail)", &p));
    assert!(yes("department == \"HR\" or present(mail)", &p));
    // and binds tighter than or: true or (false and false)
    assert!(yes("true or false and false", &p));
    assert!(!yes("(true or false) and false", &p));
    // not binds looser than a comparison: not (true == false)
    assert!(yes("not true == false", &p));
    assert_eq!(ev("not department == \"Sales\"", &p), ["false"]);
    assert_eq!(ev("not (department == \"Sales\")", &p), ["false"]);
    assert!(yes("not (department == \"HR\")", &p));
    assert!(yes("not department == \"HR\"", &p));
    // and binds looser than not: (not a) and b
    assert!(!yes("not present(sn) and present(sn)", &p));
    assert!(yes("not not present(sn)", &p));
    assert!(yes("not missing", &p));
    assert!(!yes("not sn", &p));
    assert!(yes("present(sn) == true", &p));
    assert!(yes("present(sn) == present(givenName)", &p));
    assert!(yes("false or false or sn", &p));
    assert!(!yes("sn and missing and true", &p));
}

#[test]
fn conditions_read_as_true_or_false() {
    let p = person();
    assert_eq!(ev("department == \"Sales\"", &p), ["true"]);
    assert_eq!(ev("present(missing)", &p), ["false"]);
    assert_eq!(ev("upper(present(sn))", &p), ["TRUE"]);
    assert_eq!(ev("concat(\"is:\", empty(sn))", &p), ["is:false"]);
}

#[test]
fn value_expressions_as_conditions() {
    let p = person();
    assert!(yes("sn", &p));
    assert!(!yes("missing", &p));
    assert!(yes("\"x\"", &p));
    assert!(!yes("\"\"", &p));
    assert!(!yes("\"${missing}\"", &p));
    assert!(!yes("a", &raw(&[("a", &["", ""])])), "only empty values");
    assert!(
        !yes("if(present(sn), false, true)", &p),
        "a condition through if() keeps its truth"
    );
    assert!(yes("if(present(sn), true, false)", &p));
    assert!(!yes("first(missing == 'x')", &p));
    assert!(!yes("coalesce(missing, sn == 'x')", &p));
    assert!(
        yes("concat(sn == 'x')", &p),
        "concat() makes a string: \"false\" is a value"
    );
    assert!(yes("a", &raw(&[("a", &["", "x"])])));
}

#[test]
fn is_boolean_looks_at_the_top_only() {
    for src in [
        "a == b",
        "a != b",
        "a =~ 'x'",
        "a !~ 'x'",
        "a and b",
        "a or b",
        "not a",
        "present(a)",
        "empty(a)",
        "true",
        "false",
        "(a == b)",
    ] {
        assert!(Expr::compile(src).unwrap().is_boolean(), "{src}");
    }
    for src in [
        "a",
        "\"x\"",
        "lower(a)",
        "if(a == b, true, false)",
        "first(present(a))",
        "1",
    ] {
        assert!(!Expr::compile(src).unwrap().is_boolean(), "{src}");
    }
}

#[test]
fn attributes_lists_every_name_read() {
    let e = Expr::compile(
        "if(present(`State/Prov`), \"${givenName} ${sn}\", coalesce(lower(mail), 'x${y}')) == c and d =~ 'e'",
    )
    .unwrap();
    let want: BTreeSet<String> = ["State/Prov", "givenName", "sn", "mail", "c", "d"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(e.attributes(), want);
    assert!(Expr::compile("\"const\"").unwrap().attributes().is_empty());
}

#[test]
fn source_display_and_from_str() {
    let e: Expr = " lower(mail) ".parse().unwrap();
    assert_eq!(e.source(), " lower(mail) ");
    assert_eq!(e.to_string(), " lower(mail) ");
    let e2 = e.clone();
    assert_eq!(
        e2.eval(&person()),
        ["anna.mueller@domain.com", "anna@old.example"]
    );
}

#[test]
fn expr_is_send_and_sync() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Expr>();
}

#[test]
fn lower_upper_trim() {
    let p = person();
    assert_eq!(ev("lower(givenName)", &p), ["ännä"]);
    assert_eq!(ev("upper(givenName)", &p), ["ÄNNÄ"]);
    assert_eq!(ev("upper(\"straße\")", &p), ["STRASSE"]);
    assert_eq!(
        ev("lower(\"ΟΔΟΣ\")", &p),
        ["\u{3bf}\u{3b4}\u{3bf}\u{3c2}"],
        "final sigma"
    );
    assert_eq!(
        ev("lower(mail)", &p),
        ["anna.mueller@domain.com", "anna@old.example"]
    );
    assert_eq!(ev("upper(department)", &p), ["SALES"]);
    assert_eq!(ev("trim(\"  a b \\t\")", &p), ["a b"]);
    assert_eq!(
        ev("trim(x)", &raw(&[("x", &[" a ", "   ", "b"])])),
        ["a", "b"],
        "emptied values are dropped"
    );
    assert!(ev("lower(missing)", &p).is_empty());
    assert_eq!(ev("lower(trim(upper(\" x \")))", &p), ["x"]);
}

#[test]
fn replace_uses_groups() {
    let p = person();
    assert_eq!(
        ev("replace(mail, '@.*$', '@acme.com')", &p),
        ["Anna.Mueller@acme.com", "anna@acme.com"]
    );
    assert_eq!(ev("replace(sn, '(ü)', '[${1}]')", &p), ["M[ü]ller"]);
    assert_eq!(ev("replace(sn, '(?P<v>ü)', '<$v>')", &p), ["M<ü>ller"]);
    assert_eq!(ev("replace(sn, 'ü', \"ue\")", &p), ["Mueller"]);
    assert_eq!(
        ev("replace(sn, 'x', 'y')", &p),
        ["Müller"],
        "no match, unchanged"
    );
    assert_eq!(
        ev("replace(sn, '.', '')", &p),
        Vec::<String>::new(),
        "emptied"
    );
    assert_eq!(ev("replace(department, 'a', '$$')", &p), ["S$les"]);
    assert_eq!(
        ev("replace(\"a-b-c\", '-', \"\\${0}\\${0}\")", &p),
        ["a--b--c"]
    );
    assert_eq!(
        ev("replace(department, '^(S)(a)', '${2}${1}')", &p),
        ["aSles"]
    );
}

#[test]
fn rewrite_domain_two_and_three_arguments() {
    let p = person();
    assert_eq!(
        ev("rewrite_domain(mail, \"acme.com\")", &p),
        ["Anna.Mueller@acme.com", "anna@acme.com"]
    );
    assert_eq!(
        ev("rewrite_domain(mail, \"DOMAIN.com\", \"acme.com\")", &p),
        ["Anna.Mueller@acme.com", "anna@old.example"],
        "only the matching domain, case-insensitively"
    );
    let odd = obj(&[("m", &["no-at-sign", "a@b@c.org", "x@", "x@acme.com"])]);
    assert_eq!(
        ev("rewrite_domain(m, 'acme.com')", &odd),
        ["no-at-sign", "a@b@acme.com", "x@acme.com", "x@acme.com"]
    );
    assert_eq!(
        ev("rewrite_domain(m, 'C.ORG', 'acme.com')", &odd),
        ["no-at-sign", "a@b@acme.com", "x@", "x@acme.com"]
    );
    let idn = obj(&[("m", &["ä@BÜRO.de"])]);
    assert_eq!(
        ev("rewrite_domain(m, 'büro.DE', 'acme.com')", &idn),
        ["ä@acme.com"]
    );
}

#[test]
fn split_and_join() {
    let p = person();
    assert_eq!(
        ev("split(proxyAddresses, \";\")", &p),
        ["smtp:a@x.com", "SMTP:b@x.com", "x500:/o=org"]
    );
    assert_eq!(
        ev("join(split(proxyAddresses, ';'), \", \")", &p),
        ["smtp:a@x.com, SMTP:b@x.com, x500:/o=org"]
    );
    assert_eq!(ev("split(\"a :: b ::::c\", '::')", &p), ["a", "b", "c"]);
    assert_eq!(
        ev("join(mail, '|')", &p),
        ["Anna.Mueller@Domain.com|anna@old.example"]
    );
    assert_eq!(ev("join(sn, ', ')", &p), ["Müller"]);
    assert!(ev("join(missing, ', ')", &p).is_empty());
    assert!(ev("split(missing, ',')", &p).is_empty());
    assert_eq!(
        ev("split(lower(\"A;B\"), ';')", &p),
        ["a", "b"],
        "split of computed values"
    );
    assert_eq!(
        ev("join(mail, '')", &p),
        ["Anna.Mueller@Domain.comanna@old.example"]
    );
}

#[test]
fn first_coalesce_if() {
    let p = person();
    assert_eq!(ev("first(mail)", &p), ["Anna.Mueller@Domain.com"]);
    assert_eq!(ev("first(lower(mail))", &p), ["anna.mueller@domain.com"]);
    assert!(ev("first(missing)", &p).is_empty());
    assert_eq!(
        ev("coalesce(missing, mail, sn)", &p),
        ["Anna.Mueller@Domain.com", "anna@old.example"]
    );
    assert_eq!(
        ev("coalesce(missing, \"${nothing}\", 'fallback')", &p),
        ["fallback"]
    );
    assert!(ev("coalesce(missing, other)", &p).is_empty());
    assert_eq!(
        ev("coalesce(x, y)", &raw(&[("x", &[""]), ("y", &["y"])])),
        ["y"],
        "empty strings are no value"
    );
    assert_eq!(ev("if(department == \"Sales\", \"S\", \"O\")", &p), ["S"]);
    assert_eq!(ev("if(department == \"HR\", \"S\", \"O\")", &p), ["O"]);
    assert_eq!(ev("if(mail, 'has mail', 'none')", &p), ["has mail"]);
    assert!(ev("if(missing, 'x', other)", &p).is_empty());
}

#[test]
fn present_and_empty() {
    let p = person();
    assert!(yes("present(mail)", &p));
    assert!(!yes("present(missing)", &p));
    assert!(yes("empty(missing)", &p));
    assert!(!yes("empty(mail)", &p));
    assert!(yes("empty(\"${missing}\")", &p));
    assert!(yes("empty(trim(x))", &raw(&[("x", &["  "])])));
    assert!(yes("empty(x)", &raw(&[("x", &[""])])));
}

#[test]
fn left_counts_characters() {
    let p = person();
    assert_eq!(ev("left(givenName, 2)", &p), ["Än"]);
    assert_eq!(ev("left(sn, 2)", &p), ["Mü"]);
    assert_eq!(ev("left(sn, 100)", &p), ["Müller"]);
    assert_eq!(ev("left(\"😀ab\", 1)", &p), ["😀"]);
    assert!(ev("left(sn, 0)", &p).is_empty());
    assert_eq!(ev("left(mail, 4)", &p), ["Anna", "anna"]);
}

#[test]
fn concat_uses_first_values() {
    let p = person();
    assert_eq!(ev("concat(givenName, \" \", sn)", &p), ["Ännä Müller"]);
    assert_eq!(
        ev("concat(mail, '/', department)", &p),
        ["Anna.Mueller@Domain.com/Sales"]
    );
    assert_eq!(ev("concat(missing, sn)", &p), ["Müller"]);
    assert!(ev("concat(missing, other)", &p).is_empty());
    assert_eq!(
        ev("concat(missing, '-')", &p),
        ["-"],
        "a literal is a value"
    );
}

#[test]
fn digits_keeps_digits_and_a_leading_plus() {
    let p = person();
    assert_eq!(ev("digits(telephoneNumber)", &p), ["+49030123456"]);
    let phones = obj(&[(
        "t",
        &[
            "(+1) 555-0100",
            "0049 89 1",
            "1+2",
            "++44",
            "n/a",
            "+",
            "٣٤",
        ],
    )]);
    assert_eq!(
        ev("digits(t)", &phones),
        ["+15550100", "0049891", "12", "+44"]
    );
    assert_eq!(ev("digits('12345')", &p), ["12345"]);
}

#[test]
fn functions_compose() {
    let p = person();
    assert_eq!(
        ev(
            "lower(concat(left(givenName, 1), \".\", sn, \"@acme.com\"))",
            &p
        ),
        ["ä.müller@acme.com"]
    );
    assert_eq!(
        ev(
            "join(rewrite_domain(lower(split(proxyAddresses, ';')), 'acme.com'), ',')",
            &p
        ),
        ["smtp:a@acme.com,smtp:b@acme.com,x500:/o=org"]
    );
    assert_eq!(
        ev("if(present(mail), first(mail), concat(sn, '@x'))", &p),
        ["Anna.Mueller@Domain.com"]
    );
}

#[test]
fn whitespace_and_newlines_are_free() {
    let p = person();
    assert!(yes("department == \"Sales\"\n  and\tpresent(mail)\r\n", &p));
    assert_eq!(ev("concat(\n  givenName ,\n  sn\n)", &p), ["ÄnnäMüller"]);
}

#[test]
fn function_names_are_listed() {
    let names: Vec<&str> = super::function_names().collect();
    assert_eq!(names.len(), 16);
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(names.contains(&"rewrite_domain"));
}

#[test]
fn bit_tests_one_flag_of_a_whole_number() {
    // 514 = NORMAL_ACCOUNT (512) + ACCOUNTDISABLE (2); 66048 = 65536 + 512.
    let disabled = obj(&[("userAccountControl", &["514"])]);
    let enabled = obj(&[("userAccountControl", &["66048"])]);
    assert!(yes("bit(userAccountControl, 2)", &disabled));
    assert!(!yes("bit(userAccountControl, 2)", &enabled));
    assert!(yes("not bit(userAccountControl, 2)", &enabled));
    assert!(!yes("not bit(userAccountControl, 2)", &disabled));
    assert!(yes("bit(userAccountControl, 512)", &disabled));
    assert!(yes("bit(userAccountControl, 65536)", &enabled));
    // A condition: as a value it reads "true" or "false".
    assert_eq!(ev("bit(userAccountControl, 2)", &disabled), ["true"]);
    assert_eq!(ev("bit(userAccountControl, 2)", &enabled), ["false"]);
    // groupType is signed: a security group's sign bit is 2147483648.
    let security = obj(&[("groupType", &["-2147483646"])]);
    assert!(yes("bit(groupType, 2147483648)", &security));
    assert!(yes("bit(groupType, 2)", &security));
    assert!(!yes("bit(groupType, 4)", &security));
    // Any value with the flag: multi-valued attributes.
    let many = obj(&[("flags", &["1", "6"])]);
    assert!(yes("bit(flags, 4)", &many));
    assert!(!yes("bit(flags, 8)", &many));
    // Absent, or not a whole number: false (a scope `not bit(…)` keeps such objects).
    let none = obj(&[]);
    assert!(!yes("bit(userAccountControl, 2)", &none));
    assert!(yes("not bit(userAccountControl, 2)", &none));
    let text = obj(&[("userAccountControl", &["disabled", "2.0"])]);
    assert!(!yes("bit(userAccountControl, 2)", &text));
    assert!(yes("bit('3', 1) and bit(7, 4)", &none));
    assert!(
        Expr::compile("bit(userAccountControl, 2)")
            .unwrap()
            .is_boolean()
    );
}
