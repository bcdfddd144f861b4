//! Credentials never leave the engine: every URI shown in an error, a log line or a stat goes through
//! here first.

const MASK: &str = "****";

/// The password of a `scheme://user:password@host` URI, if it has one.
pub fn password(uri: &str) -> Option<&str> {
    let (start, end) = userinfo_span(uri)?;
    let userinfo = &uri[start..end];
    let colon = userinfo.find(':')?;
    Some(&userinfo[colon + 1..]).filter(|p| !p.is_empty())
}

/// The URI with its password replaced by `****`.
pub fn redact_uri(uri: &str) -> String {
    match (userinfo_span(uri), password(uri)) {
        (Some((start, end)), Some(_)) => {
            let userinfo = &uri[start..end];
            let colon = userinfo.find(':').unwrap_or(userinfo.len());
            format!("{}{}:{MASK}{}", &uri[..start], &userinfo[..colon], &uri[end..])
        }
        _ => uri.to_owned(),
    }
}

/// `text` with every occurrence of the URI's password masked: for driver messages that may quote it.
pub fn scrub(text: &str, uri: &str) -> String {
    match password(uri) {
        Some(secret) => text.replace(secret, MASK),
        None => text.to_owned(),
    }
}

/// Byte range of the userinfo (`user:password`) of a URI: after `://`, up to the last `@` before the
/// query, as the Rust driver reads it. Taking the last `@` keeps a malformed password with a raw `@`
/// masked as a whole.
pub(crate) fn userinfo_span(uri: &str) -> Option<(usize, usize)> {
    let start = uri.find("://")? + 3;
    let query = uri[start..].find('?').map_or(uri.len(), |q| start + q);
    let at = uri[start..query].rfind('@')? + start;
    Some((start, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password_only() {
        assert_eq!(
            redact_uri("mongodb://app:s3cret@db1:27017,db2/main?authSource=admin"),
            "mongodb://app:****@db1:27017,db2/main?authSource=admin"
        );
        assert_eq!(redact_uri("mongodb+srv://u:p%40ss@cluster0.x.net"), "mongodb+srv://u:****@cluster0.x.net");
    }

    #[test]
    fn leaves_uris_without_password_alone() {
        for uri in ["mongodb://127.0.0.1:27017", "mongodb://user@host/db", "mongodb://host/?x=a@b"] {
            assert_eq!(redact_uri(uri), uri);
        }
    }

    #[test]
    fn a_raw_at_sign_in_the_password_stays_hidden() {
        let uri = "mongodb://u:pa@ss@host/db";
        assert_eq!(redact_uri(uri), "mongodb://u:****@host/db");
        assert_eq!(scrub("failed for u:pa@ss", uri), "failed for u:****");
    }
}
