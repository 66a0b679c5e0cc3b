//! Placeholder: the rdkafka scenarios are being written.
fn main() {}
