//! Task declarations: name, region arguments (privilege, fields and the region/partition names
//! each argument may be launched with), variants per processor kind, an optional cost model,
//! scalar values and task errors. An [`App`] collects the declarations and yields the
//! [`mapper_core::AppInfo`] a mapper is bound to.

use crate::context::TaskCtx;
use crate::geom::Point;
use mapper_core::{AppInfo, ArgInfo, ProcKind, TaskId, TaskInfo};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A reduction operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum (identity 0).
    Sum,
    /// Minimum (identity: the type's maximum).
    Min,
    /// Maximum (identity: the type's minimum).
    Max,
    /// Product (identity 1).
    Prod,
}

impl ReduceOp {
    /// Combines two f64 values.
    pub fn apply_f64(self, a: f64, b: f64) -> f64 {
        match self {
            ReduceOp::Sum => a + b,
            ReduceOp::Min => a.min(b),
            ReduceOp::Max => a.max(b),
            ReduceOp::Prod => a * b,
        }
    }

    /// Combines two i64 values (wrapping arithmetic).
    pub fn apply_i64(self, a: i64, b: i64) -> i64 {
        match self {
            ReduceOp::Sum => a.wrapping_add(b),
            ReduceOp::Min => a.min(b),
            ReduceOp::Max => a.max(b),
            ReduceOp::Prod => a.wrapping_mul(b),
        }
    }
}

/// How a task accesses a region argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Privilege {
    /// Read only.
    Read,
    /// Write (points not written keep their previous values).
    Write,
    /// Read and write.
    ReadWrite,
    /// Write every point; previous contents are discarded (no copy-in).
    WriteDiscard,
    /// Reduce with an operator; reductions with the same operator commute.
    Reduce(ReduceOp),
}

impl Privilege {
    /// True if the task may modify data through this argument (writes, not reductions).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Privilege::Write | Privilege::ReadWrite | Privilege::WriteDiscard
        )
    }

    /// True for read-only access.
    pub fn read_only(self) -> bool {
        self == Privilege::Read
    }
}

/// A scalar value: a task argument or a task result (future value).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// No value.
    #[default]
    None,
    /// A 64-bit float.
    F64(f64),
    /// A 64-bit integer.
    I64(i64),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

impl Value {
    /// The value as f64 (integers are converted).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            Value::I64(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The value as i64 (only integers).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// Reduces two values with `op`; `None` is the identity. Mismatched kinds are an error.
    pub fn reduce(&self, other: &Value, op: ReduceOp) -> Result<Value, String> {
        match (self, other) {
            (Value::None, v) | (v, Value::None) => Ok(v.clone()),
            (Value::F64(a), Value::F64(b)) => Ok(Value::F64(op.apply_f64(*a, *b))),
            (Value::I64(a), Value::I64(b)) => Ok(Value::I64(op.apply_i64(*a, *b))),
            (a, b) => Err(format!("cannot reduce {a:?} with {b:?} using {op:?}")),
        }
    }
}

/// An error raised by task code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError(pub String);

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TaskError {}

impl From<String> for TaskError {
    fn from(s: String) -> Self {
        TaskError(s)
    }
}

impl From<&str> for TaskError {
    fn from(s: &str) -> Self {
        TaskError(s.to_string())
    }
}

/// The body of a host variant (CPU, OMP, or an emulated GPU).
pub type HostFn = Arc<dyn Fn(&TaskCtx) -> Result<Value, TaskError> + Send + Sync>;

/// A CUDA variant (reserved for the CUDA executor; the host executors cannot run it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaVariant {
    /// Kernel name.
    pub kernel: String,
    /// Kernel source (CUDA C for NVRTC), if compiled at run time.
    pub source: Option<String>,
}

/// One implementation of a task.
#[derive(Clone)]
pub enum Variant {
    /// A host function (CPU, OMP, or a GPU emulated on a host thread).
    Host(HostFn),
    /// A CUDA kernel (for the CUDA executor).
    Cuda(CudaVariant),
}

impl fmt::Debug for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Variant::Host(_) => f.write_str("Host(..)"),
            Variant::Cuda(c) => write!(f, "Cuda({})", c.kernel),
        }
    }
}

/// The estimated cost of one point task (for the simulator).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Cost {
    /// Floating-point operations.
    pub flops: f64,
    /// Bytes accessed per region argument, in declaration order (empty: each argument's
    /// bytes once, twice for read-write and reductions).
    pub bytes: Vec<f64>,
    /// Bytes each argument moves when its memory is not cached by the processor (e.g. a GPU
    /// reading mapped host memory over PCIe, see [`crate::machine::Access::cached`]): a blocked
    /// GEMM streams an operand once per block of the other dimension. Missing entries: `bytes`.
    pub streamed: Vec<f64>,
}

/// A per-point cost function of the point and the scalar arguments.
pub type CostFn = Arc<dyn Fn(&Point, &[Value]) -> Cost + Send + Sync>;

/// A task's cost model.
#[derive(Clone)]
pub enum CostModel {
    /// The same cost for every point.
    Fixed(Cost),
    /// Cost as a function of the point and the scalar arguments.
    PerPoint(CostFn),
    /// Cost as a function of the bounding rectangle of each region argument (in declaration
    /// order) and the scalar arguments: e.g. a tile GEMM's flops from its tiles' extents.
    PerArgs(ArgsCostFn),
}

/// A cost function of the arguments' bounding rectangles and the scalar arguments.
pub type ArgsCostFn = Arc<dyn Fn(&[crate::geom::Rect], &[Value]) -> Cost + Send + Sync>;

impl CostModel {
    /// The cost of one point whose region arguments have the bounding rectangles `args`.
    pub fn cost(&self, point: &Point, args: &[crate::geom::Rect], scalars: &[Value]) -> Cost {
        match self {
            CostModel::Fixed(c) => c.clone(),
            CostModel::PerPoint(f) => f(point, scalars),
            CostModel::PerArgs(f) => f(args, scalars),
        }
    }
}

impl fmt::Debug for CostModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CostModel::Fixed(c) => write!(f, "Fixed({c:?})"),
            CostModel::PerPoint(_) => f.write_str("PerPoint(..)"),
            CostModel::PerArgs(_) => f.write_str("PerArgs(..)"),
        }
    }
}

/// A declared region argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    /// Argument name.
    pub name: String,
    /// Privilege.
    pub privilege: Privilege,
    /// Field names accessed.
    pub fields: Vec<String>,
    /// Names of the regions / partitions this argument may be launched with (a subregion is
    /// launched under its partition's name). Mapper `Region` statements may name any of them.
    pub regions: Vec<String>,
}

/// A task declaration.
#[derive(Clone, Debug)]
pub struct TaskDecl {
    /// Task name.
    pub name: String,
    /// Region arguments.
    pub args: Vec<ArgDecl>,
    /// Variants by processor kind.
    pub variants: BTreeMap<ProcKind, Variant>,
    /// Optional cost model.
    pub cost: Option<CostModel>,
    /// True if the task is launched with index launches.
    pub index_launch: bool,
}

impl TaskDecl {
    /// A task with no arguments and no variants yet.
    pub fn new(name: &str) -> TaskDecl {
        TaskDecl {
            name: name.to_string(),
            args: Vec::new(),
            variants: BTreeMap::new(),
            cost: None,
            index_launch: false,
        }
    }

    /// Adds a region argument: name, privilege, field names and the region/partition names it
    /// may be launched with.
    pub fn arg(
        mut self,
        name: &str,
        privilege: Privilege,
        fields: &[&str],
        regions: &[&str],
    ) -> TaskDecl {
        self.args.push(ArgDecl {
            name: name.to_string(),
            privilege,
            fields: fields.iter().map(|s| s.to_string()).collect(),
            regions: regions.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// Adds a variant for `kind`.
    pub fn variant(mut self, kind: ProcKind, v: Variant) -> TaskDecl {
        self.variants.insert(kind, v);
        self
    }

    /// Adds a host variant for `kind`.
    pub fn host<F>(self, kind: ProcKind, f: F) -> TaskDecl
    where
        F: Fn(&TaskCtx) -> Result<Value, TaskError> + Send + Sync + 'static,
    {
        self.variant(kind, Variant::Host(Arc::new(f)))
    }

    /// Adds the same host function as CPU variant.
    pub fn cpu<F>(self, f: F) -> TaskDecl
    where
        F: Fn(&TaskCtx) -> Result<Value, TaskError> + Send + Sync + 'static,
    {
        self.host(ProcKind::Cpu, f)
    }

    /// Adds one host function as the CPU, OMP and (emulated) GPU variant.
    pub fn all_kinds<F>(self, f: F) -> TaskDecl
    where
        F: Fn(&TaskCtx) -> Result<Value, TaskError> + Send + Sync + 'static,
    {
        let f: HostFn = Arc::new(f);
        self.variant(ProcKind::Cpu, Variant::Host(f.clone()))
            .variant(ProcKind::Omp, Variant::Host(f.clone()))
            .variant(ProcKind::Gpu, Variant::Host(f))
    }

    /// Sets the cost model.
    pub fn cost(mut self, c: CostModel) -> TaskDecl {
        self.cost = Some(c);
        self
    }

    /// Marks the task as launched with index launches.
    pub fn index_launch(mut self) -> TaskDecl {
        self.index_launch = true;
        self
    }
}

/// A handle of a declared task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskHandle(pub TaskId);

/// An application: a name and its task declarations.
#[derive(Clone, Debug, Default)]
pub struct App {
    /// Application name.
    pub name: String,
    /// Task declarations, indexed by `TaskId`.
    pub tasks: Vec<Arc<TaskDecl>>,
}

impl App {
    /// An application with no tasks.
    pub fn new(name: &str) -> App {
        App {
            name: name.to_string(),
            tasks: Vec::new(),
        }
    }

    /// Declares a task.
    pub fn task(&mut self, decl: TaskDecl) -> TaskHandle {
        self.tasks.push(Arc::new(decl));
        TaskHandle(self.tasks.len() - 1)
    }

    /// The handle of the task called `name`.
    pub fn handle(&self, name: &str) -> Option<TaskHandle> {
        self.tasks
            .iter()
            .position(|t| t.name == name)
            .map(TaskHandle)
    }

    /// The mapper's view of the application.
    pub fn info(&self) -> AppInfo {
        AppInfo {
            name: self.name.clone(),
            tasks: self
                .tasks
                .iter()
                .map(|t| TaskInfo {
                    name: t.name.clone(),
                    args: t
                        .args
                        .iter()
                        .map(|a| ArgInfo {
                            name: a.name.clone(),
                            regions: a.regions.clone(),
                            read_only: a.privilege.read_only(),
                        })
                        .collect(),
                    variants: t.variants.keys().copied().collect(),
                    index_launch: t.index_launch,
                })
                .collect(),
        }
    }

    /// Checks declarations: unique task names, at least one variant, unique argument names.
    pub fn validate(&self) -> Result<(), String> {
        for (i, t) in self.tasks.iter().enumerate() {
            if self.tasks[..i].iter().any(|o| o.name == t.name) {
                return Err(format!("task `{}` is declared twice", t.name));
            }
            if t.variants.is_empty() {
                return Err(format!(
                    "task `{}` has no variant; add one with .cpu(..) or .host(kind, ..)",
                    t.name
                ));
            }
            for (j, a) in t.args.iter().enumerate() {
                if t.args[..j].iter().any(|o| o.name == a.name) {
                    return Err(format!(
                        "task `{}` declares argument `{}` twice",
                        t.name, a.name
                    ));
                }
                if a.regions.is_empty() {
                    return Err(format!(
                        "task `{}` argument `{}` lists no region or partition names it may be launched with",
                        t.name, a.name
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_info_reflects_declarations() {
        let mut app = App::new("demo");
        app.task(
            TaskDecl::new("step")
                .arg("in", Privilege::Read, &["x"], &["ghost", "grid"])
                .arg("out", Privilege::ReadWrite, &["y"], &["blocks"])
                .all_kinds(|_| Ok(Value::None))
                .index_launch(),
        );
        let info = app.info();
        assert_eq!(
            info.tasks[0].variants,
            vec![ProcKind::Cpu, ProcKind::Gpu, ProcKind::Omp]
        );
        assert!(info.tasks[0].args[0].read_only);
        assert!(info.tasks[0].arg_matches(0, "grid"));
        assert!(info.tasks[0].arg_matches(1, "out"));
        assert!(info.tasks[0].index_launch);
        assert_eq!(app.validate(), Ok(()));
        app.task(TaskDecl::new("step").cpu(|_| Ok(Value::None)));
        assert_eq!(
            app.validate(),
            Err("task `step` is declared twice".to_string())
        );
    }

    #[test]
    fn value_reduce() {
        assert_eq!(
            Value::F64(2.0).reduce(&Value::F64(3.0), ReduceOp::Prod),
            Ok(Value::F64(6.0))
        );
        assert_eq!(
            Value::None.reduce(&Value::I64(3), ReduceOp::Min),
            Ok(Value::I64(3))
        );
        assert!(Value::I64(1)
            .reduce(&Value::F64(3.0), ReduceOp::Sum)
            .is_err());
    }
}
