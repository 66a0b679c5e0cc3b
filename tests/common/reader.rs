//! A big-endian reader over a hand-decoded response body that fails the test (never reads past
//! the end) on a short body, a bad length or leftover bytes.

use bytes::{Buf, Bytes};

pub struct Reader(pub Bytes);

impl Reader {
    pub fn need(&self, n: usize, what: &str) {
        assert!(self.0.remaining() >= n, "response ends before {what}");
    }
    pub fn i8(&mut self, what: &str) -> i8 {
        self.need(1, what);
        self.0.get_i8()
    }
    pub fn bool(&mut self, what: &str) -> bool {
        match self.i8(what) {
            0 => false,
            1 => true,
            b => panic!("{what}: boolean byte {b}"),
        }
    }
    pub fn i16(&mut self, what: &str) -> i16 {
        self.need(2, what);
        self.0.get_i16()
    }
    pub fn i32(&mut self, what: &str) -> i32 {
        self.need(4, what);
        self.0.get_i32()
    }
    pub fn i64(&mut self, what: &str) -> i64 {
        self.need(8, what);
        self.0.get_i64()
    }
    pub fn count(&mut self, what: &str) -> usize {
        let n = self.i32(what);
        assert!((0..10_000).contains(&n), "{what}: count {n}");
        n as usize
    }
    pub fn null_str(&mut self, what: &str) -> Option<String> {
        let len = self.i16(what);
        if len == -1 {
            return None;
        }
        assert!(len >= 0, "{what}: length {len}");
        self.need(len as usize, what);
        Some(String::from_utf8(self.0.split_to(len as usize).to_vec()).expect("utf-8"))
    }
    pub fn str(&mut self, what: &str) -> String {
        self.null_str(what)
            .unwrap_or_else(|| panic!("{what} is null"))
    }
    pub fn done(self) {
        assert_eq!(self.0.remaining(), 0, "bytes left after the response body");
    }
}
