//! The transforms compared by the `flows` benchmark, each written once as a ucsync expression and
//! once in rhai, with the object they run on and the two ways rhai can be fed an object.
//!
//! rhai has no multi-valued attributes and no "absent": each attribute the transform reads is
//! given to it as one string, "" when absent. That is the cheapest honest mapping, and it favours
//! rhai (ucsync's expressions also handle every value of a multi-valued attribute).

use rhai::{AST, Dynamic, Engine, Scope};
use ucsync_model::Attrs;
use ucsync_model::expr::Expr;

pub struct Transform {
    pub name: &'static str,
    pub ours: &'static str,
    /// `None`: rhai cannot say it without a function registered from Rust (no regular expressions).
    pub rhai: Option<&'static str>,
}

pub const TRANSFORMS: &[Transform] = &[
    Transform {
        name: "copy",
        ours: "mail",
        rhai: Some("mail"),
    },
    Transform {
        name: "lower",
        ours: "lower(mail)",
        rhai: Some("mail.to_lower()"),
    },
    Transform {
        name: "template",
        ours: r#""${givenName} ${sn}""#,
        rhai: Some("`${givenName} ${sn}`"),
    },
    Transform {
        name: "rewrite_domain",
        ours: r#"rewrite_domain(mail, "acme.com")"#,
        rhai: Some(
            r#"let p = mail.split_rev("@", 2); if p.len() < 2 { mail } else { p[1] + "@acme.com" }"#,
        ),
    },
    Transform {
        name: "digits",
        ours: "digits(telephoneNumber)",
        rhai: Some(
            r#"let out = ""; let any = false;
               for c in telephoneNumber.chars() {
                   if c >= '0' && c <= '9' { out += c; any = true; }
                   else if c == '+' && !any && !out.contains('+') { out += c; }
               }
               if any { out } else { "" }"#,
        ),
    },
    Transform {
        name: "coalesce",
        ours: r#"coalesce(mobile, telephoneNumber, "none")"#,
        rhai: Some(
            r#"if mobile != "" { mobile } else if telephoneNumber != "" { telephoneNumber } else { "none" }"#,
        ),
    },
    Transform {
        name: "split_join",
        ours: r#"join(split(proxyAddresses, ";"), ", ")"#,
        rhai: Some(
            r#"let out = "";
               for p in proxyAddresses.split(";") {
                   p.trim();
                   if p != "" { if out != "" { out += ", "; } out += p; }
               }
               out"#,
        ),
    },
    Transform {
        name: "scope_filter",
        ours: r#"department == "Sales" and present(mail) and employeeType != "contractor""#,
        rhai: Some(r#"department == "Sales" && mail != "" && employeeType != "contractor""#),
    },
    Transform {
        name: "regex_filter",
        ours: r#"mail =~ '(?i)@domain\.com$'"#,
        rhai: None,
    },
];

/// The object every transform runs on.
pub fn sample() -> Attrs {
    let mut a = Attrs::new();
    a.set_one("givenName", "Ännä");
    a.set_one("sn", "Müller");
    a.set_one("mail", "anna.mueller@Domain.com");
    a.set_one("department", "Sales");
    a.set_one("employeeType", "employee");
    a.set_one("telephoneNumber", "+49 (0) 30 1234-56");
    a.set_one("proxyAddresses", "smtp:a@x.com; SMTP:b@x.com;; x500:/o=org");
    a
}

/// The names every transform reads, so absent ones can be given to rhai as "".
pub fn all_names() -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for t in TRANSFORMS {
        if let Ok(e) = Expr::compile(t.ours) {
            names.extend(e.attributes());
        }
    }
    names.into_iter().collect()
}

pub fn engine() -> Engine {
    Engine::new()
}

/// A transform compiled for rhai, with the attributes it reads.
pub struct RhaiFlow {
    pub ast: AST,
    pub vars: Vec<String>,
}

impl RhaiFlow {
    pub fn compile(engine: &Engine, t: &Transform) -> Option<RhaiFlow> {
        let src = t.rhai?;
        let ast = engine
            .compile(src)
            .map_err(|e| format!("{}: {e}", t.name))
            .ok()?;
        let vars = Expr::compile(t.ours)
            .ok()?
            .attributes()
            .into_iter()
            .collect();
        Some(RhaiFlow { ast, vars })
    }

    /// Evaluates with a scope that already holds the object's attributes; variables the script
    /// declares are dropped afterwards.
    pub fn eval_prefilled(&self, engine: &Engine, scope: &mut Scope<'static>) -> Dynamic {
        let n = scope.len();
        let out = engine
            .eval_ast_with_scope::<Dynamic>(scope, &self.ast)
            .unwrap_or(Dynamic::UNIT);
        scope.rewind(n);
        out
    }

    /// Evaluates for `attrs`, filling the scope with the attributes the transform reads first:
    /// what a sync engine built on rhai would do for every object.
    pub fn eval_object(
        &self,
        engine: &Engine,
        scope: &mut Scope<'static>,
        attrs: &Attrs,
    ) -> Dynamic {
        scope.clear();
        for name in &self.vars {
            scope.push(name.as_str(), attrs.first(name).unwrap_or("").to_owned());
        }
        engine
            .eval_ast_with_scope::<Dynamic>(scope, &self.ast)
            .unwrap_or(Dynamic::UNIT)
    }
}

/// A scope holding every attribute any transform reads (absent ones as "").
pub fn prefilled_scope(attrs: &Attrs) -> Scope<'static> {
    let mut scope = Scope::new();
    for name in all_names() {
        let v = attrs.first(&name).unwrap_or("").to_owned();
        scope.push(name, v);
    }
    scope
}

/// rhai's result in ucsync's terms: one string, or none for "".
pub fn rhai_values(d: &Dynamic) -> Vec<String> {
    let s = d.to_string();
    if s.is_empty() { Vec::new() } else { vec![s] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_agree_on_the_sample() {
        let attrs = sample();
        let engine = engine();
        let mut prefilled = prefilled_scope(&attrs);
        let mut scope = Scope::new();
        for t in TRANSFORMS {
            let ours = Expr::compile(t.ours).unwrap().eval(&attrs);
            assert!(!ours.is_empty(), "{}: no value", t.name);
            let Some(flow) = RhaiFlow::compile(&engine, t) else {
                assert!(t.rhai.is_none(), "{} did not compile in rhai", t.name);
                continue;
            };
            let a = rhai_values(&flow.eval_prefilled(&engine, &mut prefilled));
            let b = rhai_values(&flow.eval_object(&engine, &mut scope, &attrs));
            assert_eq!(ours, a, "{}", t.name);
            assert_eq!(ours, b, "{}", t.name);
        }
    }

    #[test]
    fn rhai_finds_a_misspelt_function_only_when_it_runs() {
        let engine = engine();
        let ast = engine.compile("mail.to_lowr()").unwrap();
        let mut scope = Scope::new();
        scope.push("mail", "a".to_owned());
        assert!(
            engine
                .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
                .is_err()
        );
        let e = Expr::compile("to_lowr(mail)").unwrap_err();
        assert_eq!(e.column, 1);
    }
}
