//! ApiVersions: the versions this broker serves, read from the same table as the version gate.

use crate::protocol::msg::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::Broker;

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[(ApiKey::ApiVersions, VersionRange::new(0, 4))];

pub fn handle(broker: &Broker, _request: ApiVersionsRequest, _version: i16) -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.api_keys = broker.versions.advertised();
    response
}
