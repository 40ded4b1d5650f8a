//! `gather` primitives applied to tensors (the rules are in `ops/gather.rs`).

use super::bind_one;
use crate::error::{Error, Result};
use crate::ops::Prim;
use crate::ops::gather::{GatherDims, GatherMode};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `lax.gather(operand, indices, dims, slice_sizes, mode)`; the last dimension of
/// `indices` is the index vector.
pub(crate) fn gather(
    operand: &Tensor,
    indices: &Tensor,
    dims: GatherDims,
    slice_sizes: Vec<usize>,
    mode: GatherMode,
) -> Result<Tensor> {
    bind_one(
        Prim::Gather {
            dims,
            slice_sizes,
            mode,
        },
        &[operand, indices],
    )
}

/// `jnp.take(a, indices, axis=0)` in its default `fill` mode, as JAX writes it (a nested
/// `jit`): negative indices wrapped (`lt`, `add`, `select`), then a gather whose
/// out-of-bounds rows read NaN.
pub(crate) fn take_rows(table: &Tensor, indices: &Tensor) -> Result<Tensor> {
    if !indices.dtype().is_integer() {
        return Err(Error::shape(
            "gather",
            format!("indices must be integers, got {indices}"),
        ));
    }
    if table.rank() == 0 {
        return Err(Error::shape(
            "gather",
            format!("cannot take rows of {table}"),
        ));
    }
    crate::trace::call_region("take", &[table, indices], || {
        let rows = table.shape().dims()[0];
        let wrapped = if indices.dtype().kind() == crate::dtype::DTypeKind::UInt {
            indices.clone()
        } else {
            let negative = indices.less(0)?;
            let shifted = indices.add(i32::try_from(rows).unwrap_or(i32::MAX))?;
            negative.select(&shifted, indices)?
        };
        let mut shape = indices.shape().dims().to_vec();
        shape.push(1);
        let vectors =
            super::broadcast_in_dim(&wrapped, Shape::new(shape), (0..indices.rank()).collect())?;
        let mut slice_sizes = table.shape().dims().to_vec();
        slice_sizes[0] = 1;
        let dims = GatherDims {
            offset_dims: (indices.rank()..indices.rank() + table.rank() - 1).collect(),
            collapsed_slice_dims: vec![0],
            start_index_map: vec![0],
        };
        gather(table, &vectors, dims, slice_sizes, GatherMode::Fill)
    })
}
