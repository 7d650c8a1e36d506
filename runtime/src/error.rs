//! Runtime errors: configuration, binding the mapper, launches, mapping decisions, memory
//! exhaustion and task failures. Each message names what failed and where.

use mapper_core::{Diagnostic, MapError};
use std::fmt;

/// One memory that was tried for an instance and could not hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryAttempt {
    /// Memory label, e.g. `FBMEM[0.1]`.
    pub memory: String,
    /// Bytes the instance needs.
    pub needed: u64,
    /// Bytes available after evicting every unused instance.
    pub available: u64,
    /// Capacity of the memory.
    pub capacity: u64,
}

/// An error of the runtime.
#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeError {
    /// Bad configuration (machine spec, application declarations).
    Config(String),
    /// The mapper could not be bound to the application and machine.
    Bind {
        /// Mapper name.
        mapper: String,
        /// The diagnostics.
        diagnostics: Vec<Diagnostic>,
    },
    /// A malformed launch or region operation.
    Launch(String),
    /// A mapping decision was invalid.
    Map(MapError),
    /// No memory in the priority list could hold an instance.
    MemoryFull {
        /// Task name.
        task: String,
        /// The point being mapped.
        point: Vec<i64>,
        /// Argument name.
        arg: String,
        /// Region name.
        region: String,
        /// The memories tried.
        attempts: Vec<MemoryAttempt>,
    },
    /// A task or copy failed while running.
    Exec(String),
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::Config(m) | RuntimeError::Launch(m) | RuntimeError::Exec(m) => {
                f.write_str(m)
            }
            RuntimeError::Bind {
                mapper,
                diagnostics,
            } => {
                write!(
                    f,
                    "mapper `{mapper}` cannot be bound to this application and machine:"
                )?;
                for d in diagnostics {
                    write!(f, "\n  {}", d.message)?;
                    if let Some(h) = &d.help {
                        write!(f, " (help: {h})")?;
                    }
                }
                Ok(())
            }
            RuntimeError::Map(e) => write!(f, "{e}"),
            RuntimeError::MemoryFull {
                task,
                point,
                arg,
                region,
                attempts,
            } => {
                write!(f, "out of memory mapping task `{task}` at point {point:?}, argument `{arg}` (region `{region}`):")?;
                for a in attempts {
                    write!(
                        f,
                        " {} needs {} bytes but only {} of {} bytes are available after evicting unused instances;",
                        a.memory, a.needed, a.available, a.capacity
                    )?;
                }
                write!(f, " help: map the argument to a larger memory (add one to its Region priority list) or use smaller pieces")
            }
        }
    }
}

impl std::error::Error for RuntimeError {}

impl From<MapError> for RuntimeError {
    fn from(e: MapError) -> Self {
        RuntimeError::Map(e)
    }
}
