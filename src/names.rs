//! MongoDB's database-name rules, checked before any I/O so that a tenant id taken from a URL can never
//! address another database.

use crate::error::Error;

/// The characters MongoDB forbids in database names on any platform (the Windows set, the strictest).
const FORBIDDEN: &[char] = &['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0'];

/// Database names must be shorter than this many bytes.
const MAX_BYTES: usize = 64;

pub fn check_db_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() >= MAX_BYTES {
        "it must be shorter than 64 bytes"
    } else if name.contains(FORBIDDEN) {
        "it contains one of the characters / \\ . space \" $ * < > : | ? or NUL"
    } else {
        return Ok(());
    };
    Err(Error::InvalidDbName { name: name.to_owned(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_tenant_names() {
        for name in ["main", "tenant_1", "store-42", "ÄÖÜ", &"a".repeat(63)] {
            assert!(check_db_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_what_mongodb_rejects() {
        let long = "a".repeat(64);
        for name in ["", "a.b", "a/b", "a\\b", "a b", "a\"b", "$a", "a*", "<a", "a>", "a:b", "a|b", "a?", "a\0b", &long]
        {
            match check_db_name(name) {
                Err(Error::InvalidDbName { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn counts_bytes_not_characters() {
        assert!(check_db_name(&"é".repeat(31)).is_ok());
        assert!(check_db_name(&"é".repeat(32)).is_err());
    }
}
