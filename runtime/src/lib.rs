//! The task runtime: logical regions and partitions, tasks with region arguments and
//! privileges, single and index launches, dependence analysis with implicit parallelism, a
//! mapping stage that asks a [`mapper_core::Mapper`] for every decision (processor, memory,
//! layout, instance limit, collection, placement), instances with coherence and real copies
//! between memories, CPU and emulated-GPU executors, a discrete-event simulator for described
//! machines (`sim:PRESET`, `FILE.toml`), and profiles (text summary, Chrome trace).
//!
//! Pipeline of one launch: [`launch`] arguments -> [`analysis`] (dependences) -> mapping
//! (`runtime` (the [`Runtime`]), [`mapping`], [`coherence`], [`instance`], [`layout`]) -> the task graph
//! ([`sched`]) -> an [`exec`] executor -> [`profile`].

#![warn(missing_docs)]

pub mod accessor;
pub mod analysis;
pub mod coherence;
pub mod context;
pub mod cuda;
pub mod dist;
pub mod error;
pub mod exec;
pub mod fasthash;
pub mod field;
pub mod future;
pub mod geom;
pub mod instance;
pub mod launch;
pub mod layout;
pub mod machine;
pub mod mappers;
pub mod mapping;
pub mod memory;
pub mod profile;
pub mod region;
mod runtime;
pub mod sched;
pub mod spatial;
pub mod task;

pub use mapper_core;
pub use mapper_macros::app_names;

#[doc(hidden)]
pub mod __private {
    pub use mapper_macros;
}

/// Defines a mapper type from a body in the mapping language, checked at compile time and
/// compiled to native code (see `mapper_macros::mapper!`; the generated code refers to this
/// crate's re-export of `mapper_core`, so applications need only depend on `runtime`).
///
/// ```
/// runtime::mapper! {
///     pub GpuFirst;
///     Task * GPU,CPU;
///     Region * * GPU FBMEM;
/// }
/// assert!(GpuFirst::SOURCE.starts_with("Task * GPU,CPU;"));
/// ```
#[macro_export]
macro_rules! mapper {
    ($($body:tt)*) => {
        $crate::__private::mapper_macros::mapper! { @crate $crate::mapper_core; $($body)* }
    };
}
pub use mapper_core::default::DefaultMapper;

pub use context::TaskCtx;
pub use error::RuntimeError;
pub use field::{FieldSpace, FieldType, FieldValue, Prim};
pub use future::{Future, FutureMap};
pub use geom::{IndexSpace, Point, Rect};
pub use launch::{ArgRef, Proj};
pub use machine::MachineDesc;
pub use mappers::TableMapper;
pub use profile::Profile;
pub use region::{PartitionId, RegionId};
pub use runtime::{Runtime, RuntimeOptions};
pub use task::{App, Privilege, ReduceOp, TaskDecl, TaskError, TaskHandle, Value};
