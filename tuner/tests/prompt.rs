//! The rendered prompt for one app, compared with a checked-in golden file: COSMA on the
//! simulated four-P100 machine, after the expert and the default mapper ran (so the feedback
//! shows the profile facts and the change between the two attempts). Regenerate the golden
//! file with `UPDATE_GOLDEN=1 cargo test --release -p tuner --test prompt`.

use tuner::eval::finish;
use tuner::feedback::Outcome;
use tuner::target::MapperSpec;
use tuner::PromptBuilder;

/// The prompt's user message for cosma on sim:p100x4 (size small).
fn cosma_prompt() -> String {
    let app = tuner::registry::find("cosma").unwrap();
    let machine = "sim:p100x4";
    let size = "large";
    let desc = runtime::MachineDesc::parse(machine).unwrap();
    let expert_text = app.expert_mapper();
    let run = |m: &MapperSpec| app.run(m, machine, size).unwrap();
    let expert = run(&MapperSpec::Text(expert_text.clone()));
    let default = run(&MapperSpec::Default);
    let reference = Some(expert.time_s);
    let ran = |r: tuner::target::RunReport| Outcome::Ran {
        time_s: r.time_s,
        times_s: vec![r.time_s],
        report: Box::new(r),
    };
    let description = tuner::prompt::describe(app.as_ref(), &desc, size, Some(&expert.profile));
    let e = finish(expert_text.clone(), None, ran(expert), reference);
    // The default mapper as a text: nothing but the processor choice.
    let d = finish("Task * GPU,CPU;\n".into(), None, ran(default), reference);
    let b = PromptBuilder::new(description);
    b.optoprime(None, &[e.attempt(), d.attempt()])[1]
        .content
        .clone()
}

#[test]
fn cosma_prompt_matches_the_golden_file() {
    let got = cosma_prompt();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/cosma_sim_p100x4.prompt.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if got != want {
        // The first differing line, for the message.
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
        panic!(
            "the prompt differs from {} at line {} (regenerate with UPDATE_GOLDEN=1 if the change is intended):\n got: {:?}\nwant: {:?}",
            path.display(),
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

#[test]
fn cosma_prompt_speaks_the_language() {
    let p = cosma_prompt();
    // Kinds as the language spells them, never Rust's Debug names.
    assert!(
        p.contains("(variants: CPU, GPU, OMP;") || p.contains("(variants: CPU, GPU;"),
        "{p}"
    );
    for debug in ["Gpu", "Cpu", "Omp", "Fbmem", "Zcmem", "Sysmem"] {
        assert!(
            !p.contains(&format!(" {debug}")) && !p.contains(&format!("{debug},")),
            "{debug} in\n{p}"
        );
    }
    assert!(!p.contains("index launch over index launch"), "{p}");
    assert!(p.contains("Problem size: large ("), "{p}");
    // Reductions are shown as such.
    assert!(p.contains("reduction (+)"), "{p}");
    assert!(
        p.contains("Memories per node: 4 FBMEM (16.00 GiB each"),
        "{p}"
    );
    assert!(p.contains("GB/s"), "{p}");
    assert!(
        p.contains("Busy fraction of each processor over the run"),
        "{p}"
    );
    assert!(p.contains("Change since the previous attempt:"), "{p}");
}
