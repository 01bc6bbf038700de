//! The cells a sampling node keeps of a blob transaction (EIP-8070's sampler role): some
//! columns of every blob, checked against the transaction's commitments and cell proofs
//! when they were made, so that holding a [`SampledCells`] proves that check passed.

use alloy_eips::eip7594::BlobTransactionSidecarEip7594;
use alloy_primitives::{keccak256, B256};

use super::cells::{verify_cells, Cell, CellError, CustodyBitmap};

/// Verified cells of some columns of one blob transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledCells {
    mask: CustodyBitmap,
    /// Column by column, as [`super::Cells`] carries them: all blobs' cell of the lowest
    /// column first.
    cells: Vec<Cell>,
    /// Which sidecar they were checked against ([`sidecar_digest`]).
    digest: B256,
}

impl SampledCells {
    /// Checks `cells` of `mask`'s columns against `sidecar`'s commitments and cell proofs
    /// (one c-kzg batch) and keeps them.
    pub fn verify(
        sidecar: &BlobTransactionSidecarEip7594,
        mask: CustodyBitmap,
        cells: Vec<Cell>,
    ) -> Result<Self, CellError> {
        verify_cells(&sidecar.commitments, &sidecar.cell_proofs, &mask, &cells)?;
        Ok(Self {
            mask,
            cells,
            digest: sidecar_digest(sidecar),
        })
    }

    /// The columns held.
    pub fn mask(&self) -> CustodyBitmap {
        self.mask
    }

    /// Whether these are the cells of `sidecar` (the one they were verified against).
    pub fn belong_to(&self, sidecar: &BlobTransactionSidecarEip7594) -> bool {
        self.digest == sidecar_digest(sidecar)
    }

    /// The cells of `wanted`'s columns, column by column, if every one is held.
    pub fn select(&self, wanted: &CustodyBitmap) -> Option<Vec<Cell>> {
        if !self.mask.covers(wanted) {
            return None;
        }
        let columns = self.mask.count();
        let blobs = self.cells.len().checked_div(columns)?;
        let held: Vec<u64> = self.mask.indices().collect();
        let mut out = Vec::with_capacity(wanted.count().saturating_mul(blobs));
        for column in wanted.indices() {
            let position = held.iter().position(|c| *c == column)?;
            let start = position.checked_mul(blobs)?;
            out.extend_from_slice(self.cells.get(start..start.checked_add(blobs)?)?);
        }
        Some(out)
    }

    /// Bytes held (for pool accounting).
    pub fn size(&self) -> usize {
        self.cells.len() * super::cells::BYTES_PER_CELL
    }
}

/// keccak256 of a sidecar's commitments and cell proofs: what ties cells to the sidecar
/// they were verified against (blobs are not part of it: a sampler has none).
pub fn sidecar_digest(sidecar: &BlobTransactionSidecarEip7594) -> B256 {
    let mut bytes =
        Vec::with_capacity(48 * (sidecar.commitments.len() + sidecar.cell_proofs.len()));
    for item in sidecar.commitments.iter().chain(&sidecar.cell_proofs) {
        bytes.extend_from_slice(item.as_slice());
    }
    keccak256(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::cells::{cell_sidecar, without_blobs};
    use crate::testing::{cell_blob_tx, column_cells, sender};

    #[test]
    fn sampled_cells_verify_select_columns_and_know_their_sidecar() {
        let tx = cell_blob_tx(sender(1), 0, &[3, 4]);
        let sidecar = cell_sidecar(&tx).expect("7594").clone();
        let mask = CustodyBitmap::from_indices([2, 9, 70, 127]).expect("mask");
        let cells = column_cells(&tx, &mask);
        assert_eq!(cells.len(), 8);
        let sampled = SampledCells::verify(&sidecar, mask, cells.clone()).expect("verifies");
        assert_eq!((sampled.mask(), sampled.size()), (mask, 8 * 2048));
        // The blobless form has the same commitments and proofs.
        let blobless = without_blobs(&tx);
        assert!(sampled.belong_to(cell_sidecar(&blobless).expect("7594")));
        let other = cell_blob_tx(sender(1), 1, &[5, 4]);
        assert!(!sampled.belong_to(cell_sidecar(&other).expect("7594")));
        // Selecting columns 9 and 127: both blobs' cells of each, in column order.
        let two = CustodyBitmap::from_indices([9, 127]).expect("mask");
        assert_eq!(sampled.select(&two), Some(column_cells(&tx, &two)));
        assert_eq!(sampled.select(&CustodyBitmap::data()), None);
        // A flipped byte in one cell does not verify (a constant blob's cells are all alike,
        // so swapping cells would prove nothing).
        let mut wrong = cells;
        wrong[5].0[31] ^= 1;
        assert_eq!(
            SampledCells::verify(&sidecar, mask, wrong),
            Err(CellError::Invalid)
        );
    }
}
