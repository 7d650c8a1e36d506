//! The applications `tune` knows: the benchmark applications of the `apps` crate.

use crate::target::TuneApp;

/// Names of every tunable application.
pub fn names() -> Vec<String> {
    all().iter().map(|a| a.name().to_string()).collect()
}

/// Every tunable application.
pub fn all() -> Vec<Box<dyn TuneApp>> {
    apps::apps()
        .into_iter()
        .map(|a| Box::new(crate::bench::Bench::new(a)) as Box<dyn TuneApp>)
        .collect()
}

/// The application called `name`, or an error naming the closest one and the known ones.
pub fn find(name: &str) -> Result<Box<dyn TuneApp>, String> {
    let app = apps::find(name)?;
    Ok(Box::new(crate::bench::Bench::new(app)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        assert!(names().contains(&"stencil".to_string()));
        assert_eq!(
            find("stencil").map(|a| a.name().to_string()),
            Ok("stencil".into())
        );
        assert_eq!(
            find("canon").err().unwrap(),
            "unknown app `canon`; did you mean `cannon`? (known apps: stencil, circuit, pennant, cannon, summa, pumma, johnson, solomonik, cosma)"
        );
    }
}
