//! Configuration errors: each names the file, the key path and the
//! position, in one line a person understands.

use std::fmt;

use super::json5::Position;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or "<adopted config>" and the like).
    pub source: String,
    /// The key path, e.g. `vips[2][1].ip`; empty for the whole document.
    pub path: String,
    pub at: Option<Position>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(at) = self.at {
            write!(f, ":{at}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All the errors found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The closest known name, if it is close enough to be a likely typo.
/// Distance is optimal string alignment (a swap of neighbours is one edit),
/// since "stael" for "stale" is the commonest typo.
pub(crate) fn suggest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let normalised = unknown.to_ascii_lowercase().replace('_', "-");
    known
        .iter()
        .map(|k| (strsim::osa_distance(&normalised, &k.replace('_', "-")), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1) + usize::from(normalised.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["interval", "mature", "stale", "arp-cache", "chat_interface"];
        assert_eq!(suggest("intreval", &known), Some("interval"));
        assert_eq!(suggest("arp_cache", &known), Some("arp-cache"));
        assert_eq!(suggest("chat-interface", &known), Some("chat_interface"));
        assert_eq!(suggest("stael", &known), Some("stale"));
        assert_eq!(suggest("completely-different", &known), None);
    }
}
