//! Frame splitting: every Kafka request is a 4-byte big-endian length followed by that many bytes.
//!
//! Contract: `frame_body_len` decides, from the 4-byte prefix alone, whether a frame may be read;
//! a negative length or one above the configured maximum is refused before any allocation.

use super::ProtocolError;

pub const FRAME_PREFIX_BYTES: usize = 4;
/// api key (2) + api version (2) + correlation id (4): the least a request header can be.
pub const HEADER_MIN_BYTES: usize = 8;

/// The body length announced by a frame prefix, checked against `request_bytes_max`.
pub fn frame_body_len(prefix: [u8; 4], request_bytes_max: usize) -> Result<usize, ProtocolError> {
    let len = i32::from_be_bytes(prefix) as i64;
    if len < 0 || len as u64 > request_bytes_max as u64 {
        return Err(ProtocolError::FrameTooLarge {
            len_bytes: len,
            max_bytes: request_bytes_max,
        });
    }
    let len = len as usize;
    if len < HEADER_MIN_BYTES {
        return Err(ProtocolError::FrameTooShort { len_bytes: len });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_bounded_before_allocation() {
        assert!(frame_body_len((-1i32).to_be_bytes(), 100).is_err());
        assert!(frame_body_len(i32::MAX.to_be_bytes(), 100).is_err());
        assert!(frame_body_len(101i32.to_be_bytes(), 100).is_err());
        assert!(frame_body_len(3i32.to_be_bytes(), 100).is_err());
        assert_eq!(frame_body_len(100i32.to_be_bytes(), 100).unwrap(), 100);
    }
}
