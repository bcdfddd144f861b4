//! MongoDB's database- and collection-name rules, checked before any I/O so that a tenant id taken from
//! a URL can never address another database.

use crate::error::Error;

/// The characters MongoDB forbids in database names on any platform (the Windows set, the strictest).
const FORBIDDEN: &[char] = &['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0'];

/// Why a name with U+FFFD is refused: JS strings reach the engine as UTF-8 with each lone surrogate
/// replaced by U+FFFD, so `'a\uD800'` and `'a\uDC00'` would both name database `a\u{FFFD}`.
const REPLACEMENT: &str = "it contains U+FFFD, which a string that is not valid Unicode (a lone surrogate) becomes";

/// Database names must be shorter than this many bytes.
const MAX_BYTES: usize = 64;

/// Checks `name` against MongoDB's database-name rules (not empty, under 64 bytes of UTF-8, none of
/// the characters any platform forbids) and ours (no U+FFFD). Names are case-sensitive, as MongoDB's:
/// `Acme` and `acme` are two names, and MongoDB refuses to create the second (13297,
/// DatabaseDifferCase). Errors: `InvalidDbName` with the reason.
pub fn check_db_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() >= MAX_BYTES {
        "it must be shorter than 64 bytes"
    } else if name.contains(FORBIDDEN) {
        "it contains one of the characters / \\ . space \" $ * < > : | ? or NUL"
    } else if name.contains(char::REPLACEMENT_CHARACTER) {
        REPLACEMENT
    } else {
        return Ok(());
    };
    Err(Error::InvalidDbName { name: name.to_owned(), reason })
}

/// A collection name the server takes: not empty, no NUL or `$`; and no U+FFFD, as for databases.
/// `system.` collections (`system.profile`, `system.js`) are the server's to allow or refuse, as
/// with the Node driver. Errors: `InvalidArgument`.
pub fn check_collection_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('\0') || name.contains('$') {
        return Err(Error::InvalidArgument(format!("invalid collection name {name:?}")));
    }
    if name.contains(char::REPLACEMENT_CHARACTER) {
        return Err(Error::InvalidArgument(format!("invalid collection name {name:?}: {REPLACEMENT}")));
    }
    Ok(())
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
        for name in [
            "",
            "a.b",
            "a/b",
            "a\\b",
            "a b",
            "a\"b",
            "$a",
            "a*",
            "<a",
            "a>",
            "a:b",
            "a|b",
            "a?",
            "a\0b",
            "..",
            "a\u{FFFD}",
            &long,
        ] {
            match check_db_name(name) {
                Err(Error::InvalidDbName { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn collection_names_follow_the_server() {
        assert!(check_collection_name("users").is_ok());
        assert!(check_collection_name("a.b").is_ok());
        assert!(check_collection_name("system.profile").is_ok());
        for name in ["", "a$b", "a\0", "a\u{FFFD}"] {
            assert!(check_collection_name(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn counts_bytes_not_characters() {
        assert!(check_db_name(&"é".repeat(31)).is_ok());
        assert!(check_db_name(&"é".repeat(32)).is_err());
    }
}
