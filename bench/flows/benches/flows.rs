//! ns per evaluation of each transform: ucsync's compiled expression against rhai with a
//! pre-compiled AST (scope filled once, and scope filled per object), plus compiling them all.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rhai::Scope;
use ucsync_bench_flows::{RhaiFlow, TRANSFORMS, engine, prefilled_scope, sample};
use ucsync_model::expr::Expr;

fn evaluate(c: &mut Criterion) {
    let attrs = sample();
    let engine = engine();
    for t in TRANSFORMS {
        let mut g = c.benchmark_group(t.name);
        g.throughput(Throughput::Elements(1));
        let expr = Expr::compile(t.ours).expect("our expression compiles");
        // A condition is asked for its truth, as the engine asks a scope filter.
        if expr.is_boolean() {
            g.bench_function("ucsync", |b| {
                b.iter(|| black_box(expr.eval_bool(black_box(&attrs))))
            });
        } else {
            g.bench_function("ucsync", |b| {
                b.iter(|| black_box(expr.eval(black_box(&attrs))))
            });
        }
        if let Some(flow) = RhaiFlow::compile(&engine, t) {
            let mut prefilled = prefilled_scope(&attrs);
            g.bench_function("rhai-prefilled-scope", |b| {
                b.iter(|| black_box(flow.eval_prefilled(&engine, &mut prefilled)))
            });
            let mut scope = Scope::new();
            g.bench_function("rhai-scope-per-object", |b| {
                b.iter(|| black_box(flow.eval_object(&engine, &mut scope, black_box(&attrs))))
            });
        }
        g.finish();
    }
}

fn compile(c: &mut Criterion) {
    let engine = engine();
    // Only the transforms both engines can say, so both compile the same work.
    let both: Vec<_> = TRANSFORMS
        .iter()
        .filter_map(|t| Some((t.ours, t.rhai?)))
        .collect();
    let mut g = c.benchmark_group("compile_all");
    g.throughput(Throughput::Elements(both.len() as u64));
    g.bench_function("ucsync", |b| {
        b.iter(|| {
            for (ours, _) in &both {
                black_box(Expr::compile(black_box(ours)).ok());
            }
        })
    });
    g.bench_function("rhai", |b| {
        b.iter(|| {
            for (_, src) in &both {
                black_box(engine.compile(black_box(src)).ok());
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = evaluate, compile
}
criterion_main!(benches);
