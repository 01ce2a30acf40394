//! A cursor over authenticated bytes (rustls style): every read is bounds
//! checked and names the field it was reading, and [`Reader::finish`] rejects
//! trailing bytes. Nothing here can panic, whatever the input.

use super::error::WireError;

pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The next `n` bytes, or `Truncated { field }` if fewer are left.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(WireError::Truncated { field })?;
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], WireError> {
        let bytes = self.take(N, field)?;
        // `take` returned exactly N bytes, so this cannot fail; map it anyway
        // rather than unwrap.
        bytes.try_into().map_err(|_| WireError::Truncated { field })
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        self.array::<1>(field).map(|[b]| b)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        self.array(field).map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        self.array(field).map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        self.array(field).map(u64::from_be_bytes)
    }

    /// A UTF-8 string of `len` bytes; `not_utf8` is the complaint otherwise.
    pub(crate) fn str(
        &mut self,
        len: usize,
        field: &'static str,
        not_utf8: &'static str,
    ) -> Result<&'a str, WireError> {
        let bytes = self.take(len, field)?;
        std::str::from_utf8(bytes).map_err(|_| WireError::Malformed(not_utf8))
    }

    /// Ends the read: every byte must have been consumed.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        match self.rest.len() {
            0 => Ok(()),
            extra => Err(WireError::TrailingBytes { extra }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_finishes() {
        let bytes = [1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, b'h', b'i'];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a"), Ok(1));
        assert_eq!(r.u16("b"), Ok(2));
        assert_eq!(r.u32("c"), Ok(3));
        assert_eq!(r.u64("d"), Ok(4));
        assert_eq!(r.str(2, "e", "e not UTF-8"), Ok("hi"));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn short_read_names_the_field() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(
            r.u32("sequence"),
            Err(WireError::Truncated { field: "sequence" })
        );
        assert_eq!(
            r.take(usize::MAX, "huge"),
            Err(WireError::Truncated { field: "huge" })
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut r = Reader::new(&[7, 8, 9]);
        assert_eq!(r.u8("x"), Ok(7));
        assert_eq!(r.finish(), Err(WireError::TrailingBytes { extra: 2 }));
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        let mut r = Reader::new(&[0xff, 0xfe]);
        assert_eq!(
            r.str(2, "reason", "reason is not UTF-8"),
            Err(WireError::Malformed("reason is not UTF-8"))
        );
    }
}
