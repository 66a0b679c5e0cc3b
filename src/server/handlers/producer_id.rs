//! InitProducerId for idempotent producers: every call hands out a fresh producer id at epoch 0,
//! as Kafka does for producers without a transactional id. Transactional ids belong to the
//! transaction coordinator, which does not exist yet: they get TRANSACTIONAL_ID_AUTHORIZATION_FAILED
//! (with a message saying why), which every client treats as fatal rather than retrying.

use crate::protocol::msg::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::InitProducerId, VersionRange::new(0, 5))];

pub async fn handle(
    broker: &Broker,
    request: InitProducerIdRequest,
    _version: i16,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    let result = match request.transactional_id.filter(|t| !t.0.is_empty()) {
        Some(_) => Err(BrokerError::TransactionsUnsupported),
        None => broker.next_producer_id().await,
    };
    match result {
        Ok(id) => {
            response.producer_id = id.into();
            response.producer_epoch = 0;
        }
        Err(e) => {
            response.error_code = error_code(&e);
            response.producer_id = (-1).into();
            response.producer_epoch = -1;
        }
    }
    response
}
