//! How a tile GEMM `C = alpha * A * B + beta * C` over three instances' fields becomes one
//! column-major cuBLAS call, whatever the instances' layouts: a row-major operand is the
//! column-major storage of its transpose, so it is passed transposed (or, for a row-major C, the
//! whole product is computed as `C^T = B^T * A^T`). A layout with no unit-stride dimension (AOS
//! records, where consecutive elements are a record apart) or whose leading dimension is not a
//! whole number of elements cannot be taken: [`plan`] says which operand and why.

/// One matrix operand as stored: shape and byte strides of its two dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatDesc {
    /// Rows (extent of dimension 0).
    pub rows: usize,
    /// Columns (extent of dimension 1).
    pub cols: usize,
    /// Element size in bytes (8 for f64, 4 for f32).
    pub elem: usize,
    /// Bytes between consecutive rows (dimension 0).
    pub row_stride: usize,
    /// Bytes between consecutive columns (dimension 1).
    pub col_stride: usize,
}

/// Column-major storage of an operand: `trans` true when the storage is of its transpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stored {
    trans: bool,
    ld: usize,
}

impl MatDesc {
    /// Column-major storage (unit row stride, leading dimension = column stride).
    fn col_major(&self) -> Option<usize> {
        if self.row_stride != self.elem && self.rows > 1 {
            return None;
        }
        if self.cols <= 1 {
            return Some(self.rows.max(1));
        }
        (self.col_stride.is_multiple_of(self.elem)
            && self.col_stride / self.elem >= self.rows.max(1))
        .then_some(self.col_stride / self.elem)
    }

    /// Row-major storage (unit column stride, leading dimension = row stride).
    fn row_major(&self) -> Option<usize> {
        if self.col_stride != self.elem && self.cols > 1 {
            return None;
        }
        if self.rows <= 1 {
            return Some(self.cols.max(1));
        }
        (self.row_stride.is_multiple_of(self.elem)
            && self.row_stride / self.elem >= self.cols.max(1))
        .then_some(self.row_stride / self.elem)
    }

    /// Storage preferring column-major (`prefer_cm`) or row-major.
    fn stored(&self, name: &str, prefer_cm: bool) -> Result<Stored, String> {
        let cm = self.col_major().map(|ld| Stored { trans: false, ld });
        let rm = self.row_major().map(|ld| Stored { trans: true, ld });
        let pick = if prefer_cm { cm.or(rm) } else { rm.or(cm) };
        pick.ok_or_else(|| {
            let unit = self.row_stride == self.elem || self.col_stride == self.elem;
            if !unit {
                format!(
                    "cuBLAS cannot take the layout of `{name}` ({}x{} of {}-byte elements): \
                     neither dimension has unit stride (consecutive elements are {} bytes apart \
                     along rows and {} along columns, an AOS layout interleaving fields); map \
                     this argument with an SOA layout (e.g. `Layout ... SOA C_order`)",
                    self.rows, self.cols, self.elem, self.col_stride, self.row_stride
                )
            } else {
                format!(
                    "cuBLAS cannot take the layout of `{name}` ({}x{} of {}-byte elements): the \
                     leading dimension ({} and {} bytes between rows and columns) is not a whole \
                     number of elements at least the matrix extent; use the default alignment",
                    self.rows, self.cols, self.elem, self.row_stride, self.col_stride
                )
            }
        })
    }
}

/// One cuBLAS call: `C' = alpha * op(X) * op(Y) + beta * C'` in column-major terms, where
/// `(X, Y)` is `(A, B)` or, when `swap`, `(B, A)` and `C'` is `C^T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmPlan {
    /// Operands are passed as (B, A) and the result is C^T (C is row-major).
    pub swap: bool,
    /// Transpose the first operand.
    pub trans_x: bool,
    /// Transpose the second operand.
    pub trans_y: bool,
    /// Rows of C' .
    pub m: usize,
    /// Columns of C'.
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// Leading dimension of the first operand (elements).
    pub ld_x: usize,
    /// Leading dimension of the second operand (elements).
    pub ld_y: usize,
    /// Leading dimension of C' (elements).
    pub ld_c: usize,
}

/// Plans `C = alpha * A * B + beta * C` for operands stored as described, or explains which
/// operand's layout cuBLAS cannot take (or which shapes disagree).
pub fn plan(c: &MatDesc, a: &MatDesc, b: &MatDesc) -> Result<GemmPlan, String> {
    if a.rows != c.rows || b.cols != c.cols || a.cols != b.rows {
        return Err(format!(
            "GEMM shapes disagree: C is {}x{}, A is {}x{}, B is {}x{} (need C = A * B)",
            c.rows, c.cols, a.rows, a.cols, b.rows, b.cols
        ));
    }
    if a.elem != c.elem || b.elem != c.elem {
        return Err(format!(
            "GEMM element sizes disagree: C {} bytes, A {}, B {}",
            c.elem, a.elem, b.elem
        ));
    }
    let sc = c.stored("C", true)?;
    let big = |v: usize| v > i32::MAX as usize;
    let plan = if !sc.trans {
        // C column-major: op(A) = A, op(B) = B.
        let sa = a.stored("A", true)?;
        let sb = b.stored("B", true)?;
        GemmPlan {
            swap: false,
            trans_x: sa.trans,
            trans_y: sb.trans,
            m: c.rows,
            n: c.cols,
            k: a.cols,
            ld_x: sa.ld,
            ld_y: sb.ld,
            ld_c: sc.ld,
        }
    } else {
        // C row-major: C^T = B^T * A^T; a row-major operand is stored as its transpose.
        let sb = b.stored("B", false)?;
        let sa = a.stored("A", false)?;
        GemmPlan {
            swap: true,
            trans_x: !sb.trans,
            trans_y: !sa.trans,
            m: c.cols,
            n: c.rows,
            k: a.cols,
            ld_x: sb.ld,
            ld_y: sa.ld,
            ld_c: sc.ld,
        }
    };
    if [plan.m, plan.n, plan.k, plan.ld_x, plan.ld_y, plan.ld_c]
        .iter()
        .any(|&v| big(v))
    {
        return Err(format!(
            "GEMM too large for one cuBLAS call: dimensions and leading dimensions must fit in \
             32 bits ({plan:?}); use smaller tiles"
        ));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(rows: usize, cols: usize) -> MatDesc {
        MatDesc {
            rows,
            cols,
            elem: 8,
            row_stride: 8,
            col_stride: 8 * rows,
        }
    }
    fn rm(rows: usize, cols: usize) -> MatDesc {
        MatDesc {
            rows,
            cols,
            elem: 8,
            row_stride: 8 * cols,
            col_stride: 8,
        }
    }

    #[test]
    fn column_major_is_direct() {
        let p = plan(&cm(4, 5), &cm(4, 3), &cm(3, 5)).unwrap();
        assert_eq!(
            p,
            GemmPlan {
                swap: false,
                trans_x: false,
                trans_y: false,
                m: 4,
                n: 5,
                k: 3,
                ld_x: 4,
                ld_y: 3,
                ld_c: 4
            }
        );
    }

    #[test]
    fn row_major_swaps_operands() {
        let p = plan(&rm(4, 5), &rm(4, 3), &rm(3, 5)).unwrap();
        assert_eq!(
            p,
            GemmPlan {
                swap: true,
                trans_x: false,
                trans_y: false,
                m: 5,
                n: 4,
                k: 3,
                ld_x: 5,
                ld_y: 3,
                ld_c: 5
            }
        );
    }

    #[test]
    fn mixed_orders_transpose() {
        let p = plan(&cm(4, 5), &rm(4, 3), &cm(3, 5)).unwrap();
        assert!(!p.swap && p.trans_x && !p.trans_y);
        assert_eq!((p.ld_x, p.ld_y), (3, 3));
        let p = plan(&rm(4, 5), &cm(4, 3), &rm(3, 5)).unwrap();
        assert!(p.swap && !p.trans_x && p.trans_y);
        assert_eq!((p.ld_x, p.ld_y, p.ld_c), (5, 4, 5));
    }

    #[test]
    fn aos_is_a_clear_error() {
        let mut a = rm(4, 3);
        a.col_stride = 24; // records of three f64 fields
        a.row_stride = 72;
        let e = plan(&rm(4, 5), &a, &rm(3, 5)).unwrap_err();
        assert!(e.starts_with("cuBLAS cannot take the layout of `A` (4x3 of 8-byte elements): neither dimension has unit stride"), "{e}");
        assert!(e.contains("SOA"), "{e}");
    }

    #[test]
    fn fractional_leading_dimension_is_an_error() {
        let mut c = rm(4, 5);
        c.row_stride = 44; // not a multiple of 8
        let e = plan(&c, &rm(4, 3), &rm(3, 5)).unwrap_err();
        assert!(
            e.starts_with("cuBLAS cannot take the layout of `C`")
                && e.contains("leading dimension"),
            "{e}"
        );
    }

    #[test]
    fn shape_mismatch() {
        let e = plan(&cm(4, 5), &cm(4, 2), &cm(3, 5)).unwrap_err();
        assert_eq!(
            e,
            "GEMM shapes disagree: C is 4x5, A is 4x2, B is 3x5 (need C = A * B)"
        );
    }
}
