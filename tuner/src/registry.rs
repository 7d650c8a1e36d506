//! The applications `tune` knows: the benchmark applications of the `apps` crate and the
//! tuner's own `demo` app.

use crate::target::TuneApp;

/// Names of every tunable application.
pub fn names() -> Vec<String> {
    all().iter().map(|a| a.name().to_string()).collect()
}

/// Every tunable application.
pub fn all() -> Vec<Box<dyn TuneApp>> {
    let mut v: Vec<Box<dyn TuneApp>> = vec![Box::new(crate::toy::Demo)];
    for a in apps::apps() {
        v.push(Box::new(crate::bench::Bench::new(a)));
    }
    v
}

/// The application called `name`, or an error listing the known ones.
pub fn find(name: &str) -> Result<Box<dyn TuneApp>, String> {
    let apps = all();
    let known: Vec<String> = apps.iter().map(|a| a.name().to_string()).collect();
    apps.into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| format!("unknown app `{name}`; known apps: {}", known.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        assert!(names().contains(&"demo".to_string()));
        assert_eq!(
            find("demo").map(|a| a.name().to_string()),
            Ok("demo".into())
        );
        assert!(find("nope")
            .err()
            .unwrap()
            .starts_with("unknown app `nope`; known apps: demo"));
    }
}
