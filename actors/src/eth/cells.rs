//! eth/72 (the sparse blob pool, EIP-8070 as go-ethereum v1.17.10 implements it): the
//! custody bitmap, the announcement that carries it, GetCells (0x14) / Cells (0x15), and
//! checking cells against a blob transaction's commitments and cell proofs with c-kzg.
//!
//! Shapes follow go-ethereum v1.17.10 `eth/protocols/eth/protocol.go`:
//! `NewPooledTransactionHashes = [types: B, [size: P, ...], [hash: B_32, ...], mask: B_16]`,
//! `GetCells = [request-id, [hash, ...], mask]`,
//! `Cells = [request-id, [hash, ...], [[cell: B_2048, ...], ...], mask]`, where a tx's
//! cells come column by column (for each set bit of the mask, one cell per blob): geth
//! v1.17.10's `answerGetCells` serves them so and its `handleMessage` (`eth/handler_eth.go`)
//! reads them so, transposing into its blob-major store; 2- and 6-blob txs cross with geth
//! both ways in `tests/it/geth_peer.rs`.

use alloy_eips::eip4844::{Blob, Bytes48};
use alloy_eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant};
use alloy_primitives::{Bytes, FixedBytes, B256};
use alloy_rlp::{RlpDecodable, RlpEncodable, RlpEncodableWrapper};

use super::{EthWireError, PooledTx};

/// The EIP-7594 sidecar of a blob tx, if it has one (v0 sidecars carry no cell proofs).
pub fn cell_sidecar(tx: &PooledTx) -> Option<&BlobTransactionSidecarEip7594> {
    match tx {
        PooledTx::Eip4844(signed) => signed.tx().sidecar.as_eip7594(),
        _ => None,
    }
}

/// Whether `tx` is a blob tx in its eth/72 form: commitments and cell proofs, no blobs.
pub fn is_blobless(tx: &PooledTx) -> bool {
    cell_sidecar(tx).is_some_and(|s| s.blobs.is_empty() && !s.commitments.is_empty())
}

/// `tx` as eth/72 gossips it: an EIP-7594 blob tx without its blobs (geth
/// `blobTxForProtocol`); every other tx (v0 sidecars included) unchanged.
pub fn without_blobs(tx: &PooledTx) -> PooledTx {
    let mut out = tx.clone();
    if let PooledTx::Eip4844(signed) = &mut out {
        if let BlobTransactionSidecarVariant::Eip7594(sidecar) = &mut signed.tx_mut().sidecar {
            sidecar.blobs = Vec::new();
        }
    }
    out
}

/// The blobless `tx` with `blobs` put back (same hash: blobs are not signed over).
pub fn with_blobs(tx: &PooledTx, blobs: Vec<Blob>) -> PooledTx {
    let mut out = tx.clone();
    if let PooledTx::Eip4844(signed) = &mut out {
        if let BlobTransactionSidecarVariant::Eip7594(sidecar) = &mut signed.tx_mut().sidecar {
            sidecar.blobs = blobs;
        }
    }
    out
}

/// Cells (columns) of an extended blob (EIP-7594 `CELLS_PER_EXT_BLOB`, geth
/// `kzg4844.CellsPerBlob`).
pub const CELLS_PER_BLOB: usize = 128;
/// Columns that carry the blob itself (the first half of the extension; geth
/// `kzg4844.DataPerBlob`): any this many cells recover a blob, and these exact ones are it.
pub const DATA_COLUMNS: usize = 64;
/// Bytes of one cell (EIP-7594 `BYTES_PER_CELL`).
pub const BYTES_PER_CELL: usize = 2048;

/// One cell: 64 field elements of a blob's extension.
pub type Cell = FixedBytes<BYTES_PER_CELL>;

/// Which of the 128 columns a node keeps or asks for: bit `i % 8` of byte `i / 8` is
/// column `i` (geth `types.CustodyBitmap`, little endian, an RLP 16-byte string).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    RlpEncodableWrapper,
    alloy_rlp::RlpDecodableWrapper,
)]
pub struct CustodyBitmap(pub FixedBytes<16>);

impl CustodyBitmap {
    /// Every column (what a node holding whole blobs announces).
    pub const ALL: Self = Self(FixedBytes([0xff; 16]));

    /// The data columns 0..64: enough to rebuild each blob without recovery.
    pub fn data() -> Self {
        Self::from_indices(0..DATA_COLUMNS as u64).unwrap_or_default()
    }

    /// The bitmap of `indices`; `None` if one is not below [`CELLS_PER_BLOB`].
    pub fn from_indices(indices: impl IntoIterator<Item = u64>) -> Option<Self> {
        let mut bits = [0u8; 16];
        for index in indices {
            let index = usize::try_from(index)
                .ok()
                .filter(|i| *i < CELLS_PER_BLOB)?;
            bits[index / 8] |= 1 << (index % 8);
        }
        Some(Self(FixedBytes(bits)))
    }

    /// The set columns, ascending.
    pub fn indices(&self) -> impl Iterator<Item = u64> + '_ {
        (0..CELLS_PER_BLOB as u64).filter(|i| self.contains(*i))
    }

    /// Whether column `index` is set.
    pub fn contains(&self, index: u64) -> bool {
        usize::try_from(index)
            .ok()
            .filter(|i| *i < CELLS_PER_BLOB)
            .is_some_and(|i| self.0[i / 8] & (1 << (i % 8)) != 0)
    }

    /// How many columns are set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Whether every column of `other` is set here too.
    pub fn covers(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0.iter()).all(|(a, b)| a & b == *b)
    }
}

/// NewPooledTransactionHashes (0x08) for eth/72: the eth/68 triple plus the columns the
/// announcer holds for the blob transactions among them.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewPooledTransactionHashes72 {
    /// One EIP-2718 type byte per transaction.
    pub types: Bytes,
    /// Each transaction's size in its eth/72 network form (blob txs without blobs).
    pub sizes: Vec<u64>,
    /// The transaction hashes.
    pub hashes: Vec<B256>,
    /// The columns the announcer holds.
    pub mask: CustodyBitmap,
}

impl NewPooledTransactionHashes72 {
    /// Checks that the three lists have equal length (as for eth/68).
    pub fn validate(&self) -> Result<(), EthWireError> {
        super::transactions::announcement_lengths(
            self.types.len(),
            self.sizes.len(),
            self.hashes.len(),
        )
    }
}

/// GetCells (0x14, eth/72): the cells of `mask`'s columns of the blob txs `hashes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetCells {
    /// The request id (EIP-2481), inline: the envelope has three elements.
    pub request_id: u64,
    /// The blob transactions.
    pub hashes: Vec<B256>,
    /// The columns wanted.
    pub mask: CustodyBitmap,
}

/// Cells (0x15, eth/72): for each answered tx, its cells of `mask`'s columns, column by
/// column (all blobs' cell of the lowest column first). Unknown txs are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Cells {
    /// The request id, mirrored.
    pub request_id: u64,
    /// The transactions answered, in request order.
    pub hashes: Vec<B256>,
    /// One list of cells per answered transaction.
    pub cells: Vec<Vec<Cell>>,
    /// The columns served.
    pub mask: CustodyBitmap,
}

impl Cells {
    /// Checks the shape: one cell list per hash.
    pub fn validate(&self) -> Result<(), EthWireError> {
        if self.hashes.len() != self.cells.len() {
            return Err(EthWireError::CellsLengthMismatch {
                hashes: self.hashes.len(),
                lists: self.cells.len(),
            });
        }
        Ok(())
    }
}

/// Why a tx's cells were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    /// The number of cells is not (set columns) x (blobs).
    #[error("{got} cells for {columns} columns of {blobs} blobs")]
    WrongCount {
        /// Cells received.
        got: usize,
        /// Columns in the mask.
        columns: usize,
        /// Blobs of the transaction.
        blobs: usize,
    },
    /// The transaction carries fewer cell proofs than 128 per blob.
    #[error("{proofs} cell proofs for {blobs} blobs")]
    MissingProofs {
        /// Proofs the sidecar carries.
        proofs: usize,
        /// Blobs of the transaction.
        blobs: usize,
    },
    /// The KZG check failed (or c-kzg refused the input).
    #[error("cell KZG proofs do not verify")]
    Invalid,
}

/// Checks a tx's cells for `mask` against its `commitments` and its cell `proofs` (128 per
/// blob, blob-major, as in an EIP-7594 sidecar) with one c-kzg batch verification.
pub fn verify_cells(
    commitments: &[Bytes48],
    proofs: &[Bytes48],
    mask: &CustodyBitmap,
    cells: &[Cell],
) -> Result<(), CellError> {
    let blobs = commitments.len();
    let columns: Vec<u64> = mask.indices().collect();
    if blobs == 0 || cells.len() != columns.len().saturating_mul(blobs) {
        return Err(CellError::WrongCount {
            got: cells.len(),
            columns: columns.len(),
            blobs,
        });
    }
    if proofs.len() != blobs.saturating_mul(CELLS_PER_BLOB) {
        return Err(CellError::MissingProofs {
            proofs: proofs.len(),
            blobs,
        });
    }
    let (mut batch_commitments, mut batch_proofs, mut indices, mut batch_cells) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (position, cell) in cells.iter().enumerate() {
        let (column, blob) = (columns[position / blobs], position % blobs);
        let column_index = usize::try_from(column).map_err(|_| CellError::Invalid)?;
        batch_commitments.push(c_kzg::Bytes48::new(commitments[blob].0));
        batch_proofs.push(c_kzg::Bytes48::new(
            proofs[blob * CELLS_PER_BLOB + column_index].0,
        ));
        indices.push(column);
        let cell = c_kzg::Cell::new(cell.0);
        batch_cells.push(cell);
    }
    let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
    match settings.verify_cell_kzg_proof_batch(
        &batch_commitments,
        &indices,
        &batch_cells,
        &batch_proofs,
    ) {
        Ok(true) => Ok(()),
        _ => Err(CellError::Invalid),
    }
}

/// The blobs of a tx from its data-column cells (columns 0..64 of each blob, in the order
/// [`Cells`] carries them for [`CustodyBitmap::data`]): the first half of an extended blob
/// is the blob itself. `None` if `cells` is not 64 x `blobs` long.
pub fn blobs_from_data_cells(cells: &[Cell], blobs: usize) -> Option<Vec<Blob>> {
    if blobs == 0 || cells.len() != DATA_COLUMNS.checked_mul(blobs)? {
        return None;
    }
    let mut out = vec![Blob::ZERO; blobs];
    for (position, cell) in cells.iter().enumerate() {
        let (column, blob) = (position / blobs, position % blobs);
        let start = column * BYTES_PER_CELL;
        out[blob].0[start..start + BYTES_PER_CELL].copy_from_slice(cell.as_slice());
    }
    Some(out)
}

/// Whether each of `blobs` commits to its commitment (c-kzg; a non-canonical blob does
/// not). Cells rebuilt into blobs that pass are the tx's own data, whatever its proofs say.
pub fn blobs_match_commitments(blobs: &[Blob], commitments: &[Bytes48]) -> bool {
    let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
    blobs.len() == commitments.len()
        && blobs.iter().zip(commitments).all(|(blob, commitment)| {
            settings
                .blob_to_kzg_commitment(&c_kzg::Blob::new(blob.0))
                .is_ok_and(|c| c.to_bytes().into_inner() == commitment.0)
        })
}

/// Whether `mask` names data columns only: their cells are slices of the blob itself, no
/// extension to compute.
pub fn data_only(mask: &CustodyBitmap) -> bool {
    CustodyBitmap::data().covers(mask)
}

/// The cells of `blob` at `mask`'s columns, ascending (for serving from whole blobs). Data
/// columns are cut from the blob; an extension column makes c-kzg compute all 128 (about
/// 3.7 ms a blob on our 2-core machine).
pub fn cells_of_blob(blob: &Blob, mask: &CustodyBitmap) -> Option<Vec<Cell>> {
    if data_only(mask) {
        return mask
            .indices()
            .map(|i| {
                let start = usize::try_from(i).ok()?.checked_mul(BYTES_PER_CELL)?;
                blob.0
                    .get(start..start.checked_add(BYTES_PER_CELL)?)
                    .map(Cell::from_slice)
            })
            .collect();
    }
    let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
    let blob = c_kzg::Blob::new(blob.0);
    let all = settings.compute_cells(&blob).ok()?;
    Some(
        mask.indices()
            .filter_map(|i| all.get(usize::try_from(i).ok()?))
            .map(|cell| Cell::from_slice(&cell.to_bytes()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use alloy_rlp::{Decodable, Encodable};

    use super::*;
    use crate::eth::{EthMessage, EthMessageId, EthVersion};

    /// A blob like the go-ethereum suite's `makeSidecar`: zero but its first byte.
    fn blob(first: u8) -> Blob {
        let mut blob = Blob::ZERO;
        blob.0[0] = first;
        blob
    }

    /// The commitment and 128 cell proofs of `blob`, computed by c-kzg.
    fn commit(blob: &Blob) -> (Bytes48, Vec<Bytes48>) {
        let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
        let c_blob = c_kzg::Blob::new(blob.0);
        let commitment = settings
            .blob_to_kzg_commitment(&c_blob)
            .expect("commitment");
        let (_, proofs) = settings
            .compute_cells_and_kzg_proofs(&c_blob)
            .expect("proofs");
        let proofs = proofs
            .iter()
            .map(|p| Bytes48::from(p.to_bytes().into_inner()))
            .collect();
        (Bytes48::from(commitment.to_bytes().into_inner()), proofs)
    }

    /// Cells of `blobs` for `mask`, column by column, as geth v1.17.10's suite `buildCells`.
    fn cells(blobs: &[Blob], mask: &CustodyBitmap) -> Vec<Cell> {
        let per_blob: Vec<Vec<Cell>> = blobs
            .iter()
            .map(|b| cells_of_blob(b, &CustodyBitmap::ALL).expect("cells"))
            .collect();
        mask.indices()
            .flat_map(|i| per_blob.iter().map(move |c| c[i as usize]))
            .collect()
    }

    /// geth v1.17.10's wire order, built apart from ours: c-kzg's own cells (not
    /// [`cells_of_blob`]) taken as its suite's `buildCells` takes them (`for index in mask
    /// { for blob }`; its `answerGetCells` serves them so and `handleMessage` transposes
    /// what arrives from that order), for a 2-blob and a 6-blob tx. They verify and rebuild
    /// the blobs; the same cells blob by blob (an order a single blob hides) do not.
    #[test]
    fn cells_go_column_by_column_as_geth_sends_them() {
        let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
        for count in [2u8, 6] {
            let blobs: Vec<Blob> = (1..=count).map(blob).collect();
            let (commitments, proofs): (Vec<_>, Vec<_>) = blobs.iter().map(commit).unzip();
            let proofs: Vec<Bytes48> = proofs.concat();
            let all: Vec<Vec<Cell>> = blobs
                .iter()
                .map(|b| {
                    let cells = settings
                        .compute_cells(&c_kzg::Blob::new(b.0))
                        .expect("cells");
                    cells.iter().map(|c| Cell::from(c.to_bytes())).collect()
                })
                .collect();
            let mask = CustodyBitmap::from_indices([0, 5, 64, 127]).expect("mask");
            let mut geth = Vec::new();
            for index in mask.indices() {
                for blob_cells in &all {
                    geth.push(blob_cells[index as usize]);
                }
            }
            assert_eq!(verify_cells(&commitments, &proofs, &mask, &geth), Ok(()));
            assert_eq!(
                geth,
                cells(&blobs, &mask),
                "our helper agrees with geth's order"
            );
            let blob_major: Vec<Cell> = all
                .iter()
                .flat_map(|c| mask.indices().map(move |i| c[i as usize]))
                .collect();
            assert_eq!(
                verify_cells(&commitments, &proofs, &mask, &blob_major),
                Err(CellError::Invalid),
                "{count} blobs"
            );
            let data: Vec<Cell> = (0..DATA_COLUMNS)
                .flat_map(|i| all.iter().map(move |c| c[i]))
                .collect();
            assert_eq!(
                blobs_from_data_cells(&data, blobs.len()),
                Some(blobs.clone())
            );
        }
    }

    #[test]
    fn custody_bitmaps_are_little_endian_16_byte_strings() {
        // geth types.NewCustodyBitmap([]uint64{5, 21, 40, 58}) from the eth/72 suite.
        let mask = CustodyBitmap::from_indices([5, 21, 40, 58]).expect("in range");
        let mut want = [0u8; 16];
        (want[0], want[2], want[5], want[7]) = (0x20, 0x20, 0x01, 0x04);
        assert_eq!(mask.0 .0, want);
        assert_eq!(mask.indices().collect::<Vec<_>>(), vec![5, 21, 40, 58]);
        assert_eq!(mask.count(), 4);
        assert!(CustodyBitmap::ALL.covers(&mask) && !mask.covers(&CustodyBitmap::data()));
        assert_eq!(CustodyBitmap::data().count(), DATA_COLUMNS);
        assert_eq!(CustodyBitmap::from_indices([128]), None);
        let encoded = alloy_rlp::encode(mask);
        assert_eq!(encoded[0], 0x90);
        assert_eq!(CustodyBitmap::decode(&mut encoded.as_slice()), Ok(mask));
        // 15 or 17 bytes are not a bitmap.
        assert!(CustodyBitmap::decode(&mut [0x8f; 16].as_slice()).is_err());
    }

    #[test]
    fn cells_verify_against_cell_proofs_and_a_flipped_byte_does_not() {
        let blobs = [blob(0x31), blob(0x32)];
        let (commitments, proofs): (Vec<_>, Vec<_>) = blobs.iter().map(commit).unzip();
        let proofs: Vec<Bytes48> = proofs.concat();
        let mask = CustodyBitmap::from_indices([5, 21, 40, 58]).expect("mask");
        let mut good = cells(&blobs, &mask);
        assert_eq!(good.len(), 8);
        assert_eq!(verify_cells(&commitments, &proofs, &mask, &good), Ok(()));
        // The suite's corruption: byte 31 of every cell flipped.
        good[3].0[31] ^= 1;
        assert_eq!(
            verify_cells(&commitments, &proofs, &mask, &good),
            Err(CellError::Invalid)
        );
        assert!(matches!(
            verify_cells(&commitments, &proofs, &mask, &good[1..]),
            Err(CellError::WrongCount { got: 7, .. })
        ));
        assert!(matches!(
            verify_cells(&commitments, &proofs[1..], &mask, &good),
            Err(CellError::MissingProofs { .. })
        ));
        // Data columns cut from the blob equal c-kzg's computed ones.
        let some_data = CustodyBitmap::from_indices([0, 7, 63]).expect("mask");
        let mut with_extension = some_data;
        with_extension.0 .0[15] |= 0x80;
        for blob in &blobs {
            let computed = cells_of_blob(blob, &with_extension).expect("cells");
            assert_eq!(cells_of_blob(blob, &some_data).expect("cut"), computed[..3]);
        }
        // The data columns are the blobs themselves.
        let data = cells(&blobs, &CustodyBitmap::data());
        assert_eq!(blobs_from_data_cells(&data, 2), Some(blobs.to_vec()));
        assert_eq!(blobs_from_data_cells(&data[1..], 2), None);
    }

    #[test]
    fn cell_messages_round_trip_and_are_eth72_only() {
        let mask = CustodyBitmap::from_indices([1, 2]).expect("mask");
        let request = EthMessage::GetCells(GetCells {
            request_id: 9,
            hashes: vec![B256::repeat_byte(1)],
            mask,
        });
        let response = EthMessage::Cells(Cells {
            request_id: 9,
            hashes: vec![B256::repeat_byte(1)],
            cells: vec![vec![Cell::repeat_byte(7); 2]],
            mask,
        });
        for message in [request, response] {
            let id = message.message_id() as u8;
            let encoded = message.encoded();
            assert_eq!(
                EthMessage::decode(EthVersion::Eth72, id, &encoded),
                Ok(message)
            );
            assert!(EthMessage::decode(EthVersion::Eth71, id, &encoded).is_err());
        }
        // A Cells with two hashes but one cell list is refused by shape.
        let lopsided = Cells {
            request_id: 1,
            hashes: vec![B256::ZERO, B256::ZERO],
            cells: vec![vec![]],
            mask,
        };
        assert_eq!(
            EthMessage::decode(EthVersion::Eth72, 0x15, &alloy_rlp::encode(&lopsided)),
            Err(EthWireError::CellsLengthMismatch {
                hashes: 2,
                lists: 1
            })
        );
        // A cell of 2047 bytes is not a cell.
        let mut short = Vec::new();
        let cells_field = vec![vec![Bytes::from(vec![7u8; BYTES_PER_CELL - 1])]];
        let payload =
            9u64.length() + vec![B256::ZERO].length() + cells_field.length() + mask.length();
        alloy_rlp::Header {
            list: true,
            payload_length: payload,
        }
        .encode(&mut short);
        9u64.encode(&mut short);
        vec![B256::ZERO].encode(&mut short);
        cells_field.encode(&mut short);
        mask.encode(&mut short);
        assert!(matches!(
            EthMessage::decode(EthVersion::Eth72, 0x15, &short),
            Err(EthWireError::Rlp { .. })
        ));
    }

    #[test]
    fn eth72_announcements_carry_the_mask() {
        let announcement = NewPooledTransactionHashes72 {
            types: vec![3].into(),
            sizes: vec![1000],
            hashes: vec![B256::repeat_byte(2)],
            mask: CustodyBitmap::ALL,
        };
        let encoded = alloy_rlp::encode(&announcement);
        let id = EthMessageId::NewPooledTransactionHashes as u8;
        assert_eq!(
            EthMessage::decode(EthVersion::Eth72, id, &encoded),
            Ok(EthMessage::NewPooledTransactionHashes72(
                announcement.clone()
            ))
        );
        // Without the mask it is the eth/68 form, which eth/72 refuses (and vice versa).
        let eth68 = crate::eth::NewPooledTransactionHashes68 {
            types: announcement.types.clone(),
            sizes: announcement.sizes.clone(),
            hashes: announcement.hashes.clone(),
        };
        assert!(EthMessage::decode(EthVersion::Eth72, id, &alloy_rlp::encode(&eth68)).is_err());
        assert!(EthMessage::decode(EthVersion::Eth71, id, &encoded).is_err());
        let unequal = NewPooledTransactionHashes72 {
            sizes: vec![],
            ..announcement
        };
        assert!(matches!(
            EthMessage::decode(EthVersion::Eth72, id, &alloy_rlp::encode(&unequal)),
            Err(EthWireError::AnnouncementLengthMismatch { .. })
        ));
    }
}
