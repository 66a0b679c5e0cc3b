//! The one table of supported API versions.
//!
//! Contract: the server builds it from the version ranges its handler files declare; the version
//! gate (`ApiVersionTable::check`) and the ApiVersions response read the same table, so the broker
//! never advertises what it does not serve nor serves what it does not advertise.

use super::ApiKey;
use super::msg::api_versions_response::ApiVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    pub min: i16,
    pub max: i16,
}

impl VersionRange {
    pub const fn new(min: i16, max: i16) -> Self {
        VersionRange { min, max }
    }
    pub fn contains(&self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApiVersionTable {
    entries: Vec<(ApiKey, VersionRange)>,
}

impl ApiVersionTable {
    /// Builds the table; a later entry for the same key replaces an earlier one.
    pub fn new(entries: impl IntoIterator<Item = (ApiKey, VersionRange)>) -> Self {
        let mut table = ApiVersionTable {
            entries: Vec::new(),
        };
        for (key, range) in entries {
            table.entries.retain(|(k, _)| *k != key);
            table.entries.push((key, range));
        }
        table.entries.sort_by_key(|(k, _)| *k as i16);
        table
    }

    pub fn range(&self, key: ApiKey) -> Option<VersionRange> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, r)| *r)
    }

    /// The ApiVersions response's `api_keys` list.
    pub fn advertised(&self) -> Vec<ApiVersion> {
        self.entries
            .iter()
            .map(|(k, r)| {
                let mut v = ApiVersion::default();
                v.api_key = *k as i16;
                v.min_version = r.min;
                v.max_version = r.max;
                v
            })
            .collect()
    }
}
