//! What a mapper needs to know about an application: its tasks, their region arguments (with the
//! names of the regions and partitions they are launched with) and their variants.

use crate::kinds::ProcKind;

/// Index of a task in [`AppInfo::tasks`].
pub type TaskId = usize;

/// A region argument of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgInfo {
    /// The argument's declared name.
    pub name: String,
    /// Names of the logical regions and partitions this argument is launched with, and their
    /// ancestors; a `Region` statement naming any of them matches the argument.
    pub regions: Vec<String>,
    /// True if the task only reads this argument (early collection applies to these).
    pub read_only: bool,
}

/// A task of an application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// Task name.
    pub name: String,
    /// Region arguments in declaration order.
    pub args: Vec<ArgInfo>,
    /// Processor kinds the task has variants for.
    pub variants: Vec<ProcKind>,
    /// True if the task is launched as an index launch (else single launches).
    pub index_launch: bool,
}

impl TaskInfo {
    /// True if `name` matches argument `arg` (its declared name or a region it is launched with).
    pub fn arg_matches(&self, arg: usize, name: &str) -> bool {
        self.args
            .get(arg)
            .is_some_and(|a| a.name == name || a.regions.iter().any(|r| r == name))
    }
}

/// The application as the mapper sees it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AppInfo {
    /// Application name.
    pub name: String,
    /// Tasks, indexed by [`TaskId`].
    pub tasks: Vec<TaskInfo>,
}

impl AppInfo {
    /// The id of the task called `name`.
    pub fn task_id(&self, name: &str) -> Option<TaskId> {
        self.tasks.iter().position(|t| t.name == name)
    }

    /// Every region or argument name any task uses (for name checks and suggestions).
    pub fn region_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .tasks
            .iter()
            .flat_map(|t| t.args.iter())
            .flat_map(|a| {
                std::iter::once(a.name.as_str()).chain(a.regions.iter().map(|s| s.as_str()))
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}
