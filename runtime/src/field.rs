//! Field spaces: named, typed fields (f32, f64, i32, i64, u32, u64 and small fixed arrays of
//! them), and the [`FieldValue`] trait that ties Rust types to field types for typed accessors.

use std::fmt;

/// A primitive element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prim {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit unsigned integer.
    U64,
}

impl Prim {
    /// Size (and natural alignment) in bytes.
    pub fn size(self) -> usize {
        match self {
            Prim::F32 | Prim::I32 | Prim::U32 => 4,
            Prim::F64 | Prim::I64 | Prim::U64 => 8,
        }
    }

    /// The Rust spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
        }
    }
}

/// A field's type: a primitive or a fixed array `[prim; count]` (count >= 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldType {
    /// Element type.
    pub prim: Prim,
    /// Number of elements (1 for a scalar field).
    pub count: u32,
}

impl FieldType {
    /// A scalar field type.
    pub const fn scalar(prim: Prim) -> FieldType {
        FieldType { prim, count: 1 }
    }

    /// An array field type `[prim; count]`.
    pub const fn array(prim: Prim, count: u32) -> FieldType {
        FieldType { prim, count }
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.prim.size() * self.count as usize
    }

    /// Natural alignment in bytes.
    pub fn align(&self) -> usize {
        self.prim.size()
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 1 {
            f.write_str(self.prim.as_str())
        } else {
            write!(f, "[{}; {}]", self.prim.as_str(), self.count)
        }
    }
}

/// Index of a field in its [`FieldSpace`].
pub type FieldId = usize;

/// One named field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// Field name.
    pub name: String,
    /// Field type.
    pub ty: FieldType,
}

/// An ordered set of named, typed fields.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FieldSpace {
    fields: Vec<FieldDef>,
}

impl FieldSpace {
    /// An empty field space.
    pub fn new() -> FieldSpace {
        FieldSpace::default()
    }

    /// Adds a field (builder style). A duplicate name replaces nothing: the first one wins on
    /// lookup, so avoid duplicates; [`FieldSpace::try_add`] reports them.
    pub fn with(mut self, name: &str, ty: FieldType) -> FieldSpace {
        self.fields.push(FieldDef {
            name: name.to_string(),
            ty,
        });
        self
    }

    /// Adds a field of Rust type `T` (builder style).
    pub fn field<T: FieldValue>(self, name: &str) -> FieldSpace {
        self.with(name, T::TYPE)
    }

    /// Adds a field, failing on a duplicate name.
    pub fn try_add(&mut self, name: &str, ty: FieldType) -> Result<FieldId, String> {
        if self.id(name).is_some() {
            return Err(format!(
                "field `{name}` is already defined in this field space"
            ));
        }
        self.fields.push(FieldDef {
            name: name.to_string(),
            ty,
        });
        Ok(self.fields.len() - 1)
    }

    /// The id of the field called `name`.
    pub fn id(&self, name: &str) -> Option<FieldId> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The field with id `id`.
    pub fn get(&self, id: FieldId) -> Option<&FieldDef> {
        self.fields.get(id)
    }

    /// All fields.
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True if there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// A Rust type that can be stored in a field: the primitives and `[T; N]` of them.
///
/// # Safety
/// `TYPE.size()` must equal `size_of::<Self>()`, the type must be plain old data (every bit
/// pattern valid) and its alignment must not exceed `TYPE.align()`.
pub unsafe trait FieldValue: Copy + Send + Sync + 'static {
    /// The field type this Rust type reads and writes.
    const TYPE: FieldType;
}

macro_rules! prim_value {
    ($t:ty, $p:ident) => {
        // SAFETY: primitive numeric types are plain old data of the stated size and alignment.
        unsafe impl FieldValue for $t {
            const TYPE: FieldType = FieldType::scalar(Prim::$p);
        }
        // SAFETY: arrays of plain old data are plain old data with the element's alignment.
        unsafe impl<const N: usize> FieldValue for [$t; N] {
            const TYPE: FieldType = FieldType::array(Prim::$p, N as u32);
        }
    };
}

prim_value!(f32, F32);
prim_value!(f64, F64);
prim_value!(i32, I32);
prim_value!(i64, I64);
prim_value!(u32, U32);
prim_value!(u64, U64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_space_lookup_and_types() {
        let mut fs = FieldSpace::new().field::<f64>("x").field::<[f32; 3]>("v");
        assert_eq!(fs.id("v"), Some(1));
        assert_eq!(fs.get(1).map(|f| f.ty.size()), Some(12));
        assert_eq!(
            fs.get(1).map(|f| f.ty.to_string()),
            Some("[f32; 3]".to_string())
        );
        assert_eq!(
            fs.try_add("x", FieldType::scalar(Prim::I32)),
            Err("field `x` is already defined in this field space".into())
        );
        assert_eq!(fs.try_add("n", FieldType::scalar(Prim::U64)), Ok(2));
        assert_eq!(
            <[u64; 2] as FieldValue>::TYPE,
            FieldType::array(Prim::U64, 2)
        );
    }
}
