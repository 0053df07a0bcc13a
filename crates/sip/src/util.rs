//! Small helpers the registration and call code share.

/// The value of the first header called `name` (case-insensitive), as text after the colon.
pub(crate) fn header_value(headers: &rsipstack::sip::Headers, name: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| {
            let text = h.to_string();
            text.split_once(':')
                .map_or(String::new(), |(_, v)| v.trim().to_owned())
        })
}

/// A fresh seed for tags, cnonces and back-off jitter, from the OS's randomised hasher keys
/// and the wall clock (no RNG crate needed for values that only have to differ).
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
