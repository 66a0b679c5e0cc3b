//! The one table of supported API versions.
//!
//! Contract: the server builds it from the version ranges its handler files declare; the version
//! gate (`ApiVersionTable::check`) and the ApiVersions response read the same table, so the broker
//! never advertises what it does not serve nor serves what it does not advertise. The handlers'
//! ranges include the removed versions Gregor still serves (`protocol::legacy::SERVED`); the
//! server takes them out with `without` when `gregor.legacy.api.versions.enable` is false.

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

    /// The table with the versions in `removed` taken out of the bottom of each range (an entry
    /// whose minimum lies in a removed range starts after it); a range emptied entirely is kept
    /// out of the table.
    pub fn without(mut self, removed: &[(ApiKey, VersionRange)]) -> Self {
        for (key, gone) in removed {
            for (k, range) in self.entries.iter_mut() {
                if k == key && gone.contains(range.min) {
                    range.min = gone.max.saturating_add(1);
                }
            }
        }
        self.entries.retain(|(_, r)| r.min <= r.max);
        self
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_raises_minimums_inside_removed_ranges_only() {
        let table = ApiVersionTable::new([
            (ApiKey::DescribeConfigs, VersionRange::new(0, 4)),
            (ApiKey::OffsetCommit, VersionRange::new(0, 9)),
            (ApiKey::Produce, VersionRange::new(0, 13)),
            (ApiKey::DeleteTopics, VersionRange::new(0, 0)),
        ])
        .without(&[
            (ApiKey::DescribeConfigs, VersionRange::new(0, 0)),
            (ApiKey::OffsetCommit, VersionRange::new(0, 1)),
            (ApiKey::DeleteTopics, VersionRange::new(0, 0)),
        ]);
        assert_eq!(
            table.range(ApiKey::DescribeConfigs),
            Some(VersionRange::new(1, 4))
        );
        assert_eq!(
            table.range(ApiKey::OffsetCommit),
            Some(VersionRange::new(2, 9))
        );
        assert_eq!(table.range(ApiKey::Produce), Some(VersionRange::new(0, 13)));
        assert_eq!(table.range(ApiKey::DeleteTopics), None);
    }
}
