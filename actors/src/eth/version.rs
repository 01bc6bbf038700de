//! eth protocol versions this crate speaks (eth/66 to eth/72) and what each one allows.

use std::fmt;

/// A version of the eth wire protocol (`caps/eth.md`).
///
/// Ordered, so `version >= EthVersion::Eth69` reads as "eth/69 or later".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[repr(u8)]
pub enum EthVersion {
    /// eth/66 (EIP-2481): request ids.
    Eth66 = 66,
    /// eth/67 (EIP-4938): GetNodeData/NodeData removed.
    Eth67 = 67,
    /// eth/68 (EIP-5793): typed announcements with sizes.
    Eth68 = 68,
    /// eth/69 (EIP-7642): Status without TD, receipts without bloom, BlockRangeUpdate,
    /// block broadcasts gone.
    Eth69 = 69,
    /// eth/70 (EIP-7975): paged receipts.
    Eth70 = 70,
    /// eth/71 (EIP-8159): block access lists (GetBlockAccessLists/BlockAccessLists).
    Eth71 = 71,
    /// eth/72 (sparse blob pool): announcements with a custody mask, GetCells/Cells, blob
    /// txs gossiped without blobs.
    Eth72 = 72,
}

/// A version number that is not one of [`EthVersion`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported eth version {version}")]
pub struct UnsupportedEthVersion {
    /// The version number offered or received.
    pub version: u64,
}

impl EthVersion {
    /// Every version we offer and accept, oldest first.
    pub const ALL: [Self; 7] = [
        Self::Eth66,
        Self::Eth67,
        Self::Eth68,
        Self::Eth69,
        Self::Eth70,
        Self::Eth71,
        Self::Eth72,
    ];

    /// The newest version we speak.
    pub const LATEST: Self = Self::Eth72;

    /// The version number as sent in Hello capabilities and Status.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// How many message ids the version reserves in the RLPx id space (geth
    /// `protocolLengths`: 17 for eth/66-68, 18 for eth/69-70, 20 for eth/71, 22 for
    /// eth/72).
    pub const fn message_count(self) -> u8 {
        match self {
            Self::Eth66 | Self::Eth67 | Self::Eth68 => 17,
            Self::Eth69 | Self::Eth70 => 18,
            Self::Eth71 => 20,
            Self::Eth72 => 22,
        }
    }

    /// Whether the Status and block-announcement messages still carry total difficulty
    /// (eth/68 and older).
    pub const fn has_total_difficulty(self) -> bool {
        (self as u8) <= 68
    }
}

impl TryFrom<u64> for EthVersion {
    type Error = UnsupportedEthVersion;

    fn try_from(version: u64) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|v| u64::from(v.as_u8()) == version)
            .ok_or(UnsupportedEthVersion { version })
    }
}

impl fmt::Display for EthVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "eth/{}", self.as_u8())
    }
}

impl std::str::FromStr for EthVersion {
    type Err = UnsupportedEthVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.trim().trim_start_matches("eth/");
        let version = digits
            .parse::<u64>()
            .map_err(|_| UnsupportedEthVersion { version: 0 })?;
        Self::try_from(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!("68".parse::<EthVersion>(), Ok(EthVersion::Eth68));
        assert_eq!("eth/70".parse::<EthVersion>(), Ok(EthVersion::Eth70));
        assert!("65".parse::<EthVersion>().is_err());
        assert!(EthVersion::Eth69 > EthVersion::Eth68);
        assert!(EthVersion::Eth68.has_total_difficulty());
        assert!(!EthVersion::Eth69.has_total_difficulty());
        assert_eq!(EthVersion::Eth70.message_count(), 18);
        assert_eq!(EthVersion::Eth71.message_count(), 20);
        assert_eq!("eth/72".parse::<EthVersion>(), Ok(EthVersion::LATEST));
    }
}
