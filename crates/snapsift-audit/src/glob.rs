//! The path patterns checks name: absolute paths whose segments may hold `*` (any run of
//! characters within a segment, dot files included) and `?` (one character), a `**` segment
//! (any number of segments, none included), and a leading `~/` (every home directory: see
//! [`Pattern::expand`]).
//!
//! Matching is by segments, with a table of reachable positions: linear in the pattern's
//! segments times the path's, whatever the path (no backtracking blow-up on hostile names).
//! A home directory taken from an image's `/etc/passwd` becomes literal segments: a `*` in
//! an attacker's home field matches only a `*`.

use crate::AuditError;

/// One segment of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// This text exactly.
    Literal(String),
    /// A segment with `*` or `?` in it.
    Wild(String),
    /// `**`: any number of segments.
    AnyDepth,
}

/// A path pattern as a check file writes it (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// Whether it starts with `~/`: it is under every home directory.
    home: bool,
    segments: Vec<Segment>,
}

/// A pattern with its home directory filled in, ready to match paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathMatcher {
    segments: Vec<Segment>,
    /// The literal segments it begins with, as a path prefix (`/etc/ssh/`): most paths are
    /// told apart by it without the table.
    prefix: String,
}

impl Pattern {
    /// Parses `text`: `/absolute/path` or `~/path under each home`.
    pub fn parse(text: &str) -> Result<Pattern, AuditError> {
        let (home, rest) = if let Some(rest) = text.strip_prefix("~/") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('/') {
            (false, rest)
        } else {
            return Err(AuditError::Checks(format!(
                "path pattern {text:?} must start with / or ~/"
            )));
        };
        let mut segments = Vec::new();
        for part in rest.split('/') {
            let segment = match part {
                "" | "." | ".." => {
                    return Err(AuditError::Checks(format!(
                        "path pattern {text:?} has an empty, . or .. segment"
                    )));
                }
                "**" => Segment::AnyDepth,
                p if p.contains(['*', '?']) => Segment::Wild(p.to_owned()),
                p => Segment::Literal(p.to_owned()),
            };
            segments.push(segment);
        }
        Ok(Pattern { home, segments })
    }

    /// The matchers of this pattern: itself, or for a `~/` pattern, one under `/home/*`
    /// (a home left behind by a deleted account is a home too) and one per home directory
    /// in `homes` (absolute paths, taken literally).
    pub fn expand(&self, homes: &[String]) -> Vec<PathMatcher> {
        if !self.home {
            return vec![PathMatcher::new(self.segments.clone())];
        }
        let under = |mut segments: Vec<Segment>| {
            segments.extend(self.segments.iter().cloned());
            PathMatcher::new(segments)
        };
        let mut matchers = vec![under(vec![
            Segment::Literal("home".to_owned()),
            Segment::Wild("*".to_owned()),
        ])];
        for home in homes {
            let segments: Vec<Segment> = segments_of(home)
                .map(|s| Segment::Literal(s.to_owned()))
                .collect();
            // /home/NAME is matched already.
            if !matches!(segments.as_slice(), [Segment::Literal(h), Segment::Literal(_)] if h == "home")
            {
                matchers.push(under(segments));
            }
        }
        matchers
    }
}

/// The segments of an absolute path (empty ones, as in `//`, left out).
fn segments_of(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

impl PathMatcher {
    fn new(segments: Vec<Segment>) -> PathMatcher {
        let mut prefix = String::from("/");
        for segment in &segments {
            match segment {
                Segment::Literal(text) => {
                    prefix.push_str(text);
                    prefix.push('/');
                }
                _ => break,
            }
        }
        PathMatcher { segments, prefix }
    }

    /// A matcher of exactly the absolute path `path` (no wildcards: `*` is a `*`).
    pub fn literal(path: &str) -> PathMatcher {
        PathMatcher::new(
            segments_of(path)
                .map(|s| Segment::Literal(s.to_owned()))
                .collect(),
        )
    }

    /// Whether `path` (absolute) matches.
    pub fn matches(&self, path: &str) -> bool {
        // The prefix ends with `/`; an all-literal pattern's path lacks that last one.
        let literal_prefix = path.starts_with(&self.prefix)
            || (path.len().checked_add(1) == Some(self.prefix.len())
                && self.prefix.starts_with(path));
        if !literal_prefix {
            return false;
        }
        let parts: Vec<&str> = segments_of(path).collect();
        // reach[j]: the pattern's segments so far can match the path's first j.
        let mut reach = vec![false; parts.len().saturating_add(1)];
        reach[0] = true;
        for segment in &self.segments {
            let mut next = vec![false; reach.len()];
            match segment {
                Segment::AnyDepth => {
                    let mut on = false;
                    for (j, slot) in next.iter_mut().enumerate() {
                        on |= reach[j];
                        *slot = on;
                    }
                }
                _ => {
                    for (j, part) in parts.iter().enumerate() {
                        if reach[j] && segment_matches(segment, part) {
                            next[j.saturating_add(1)] = true;
                        }
                    }
                }
            }
            reach = next;
        }
        reach.last().copied().unwrap_or(false)
    }
}

/// Whether one path segment matches one pattern segment.
fn segment_matches(segment: &Segment, part: &str) -> bool {
    match segment {
        Segment::Literal(text) => text == part,
        Segment::AnyDepth => true,
        Segment::Wild(pattern) => wildcard(pattern.as_bytes(), part.as_bytes()),
    }
}

/// `*` and `?` matching, greedy with one remembered star: at most pattern × text steps.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p = p.saturating_add(1);
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p = p.saturating_add(1);
                t = t.saturating_add(1);
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp.saturating_add(1);
                    t = st.saturating_add(1);
                    star = Some((sp, t));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, homes: &[&str], path: &str) -> bool {
        let homes: Vec<String> = homes.iter().map(|h| h.to_string()).collect();
        Pattern::parse(pattern)
            .unwrap()
            .expand(&homes)
            .iter()
            .any(|m| m.matches(path))
    }

    #[test]
    fn segments_stars_and_depth() {
        assert!(m("/etc/shadow", &[], "/etc/shadow"));
        assert!(!m("/etc/shadow", &[], "/etc/shadow-"));
        assert!(!m("/etc/shadow", &[], "/etc/shadow/x"));
        assert!(m(
            "/etc/ssh/ssh_host_*_key",
            &[],
            "/etc/ssh/ssh_host_ed25519_key"
        ));
        assert!(!m(
            "/etc/ssh/ssh_host_*_key",
            &[],
            "/etc/ssh/ssh_host_ed25519_key.pub"
        ));
        assert!(m("/tmp/**", &[], "/tmp/a"));
        assert!(m("/tmp/**", &[], "/tmp/a/b/c"));
        assert!(!m("/tmp/**", &[], "/var/tmp/a"));
        assert!(m("/**/core", &[], "/core"));
        assert!(m("/**/core", &[], "/a/b/core"));
        assert!(m(
            "/var/lib/cloud/instance*/user-data*",
            &[],
            "/var/lib/cloud/instance/user-data.txt"
        ));
        assert!(m("/a/?.x", &[], "/a/b.x"));
        assert!(!m("/a/?.x", &[], "/a/bb.x"));
        assert!(m("/a/*", &[], "/a/.hidden"));
    }

    #[test]
    fn homes_are_literal() {
        assert!(m(
            "~/.bash_history",
            &["/root", "/home/alice"],
            "/home/alice/.bash_history"
        ));
        assert!(m("~/.bash_history", &["/root"], "/root/.bash_history"));
        assert!(!m(
            "~/.bash_history",
            &["/root"],
            "/srv/alice/.bash_history"
        ));
        // A home left behind by a deleted account.
        assert!(m(
            "~/.bash_history",
            &["/root"],
            "/home/alice/.bash_history"
        ));
        assert!(!m("~/.bash_history", &["/root"], "/home/.bash_history"));
        // A hostile home field is a path, not a pattern.
        assert!(!m("~/.x", &["/*"], "/srv/.x"));
        assert!(m("~/.x", &["/*"], "/*/.x"));
        assert!(m("~/.x", &["/"], "/.x"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "etc/shadow",
            "/etc//shadow",
            "/etc/../shadow",
            "~user/x",
            "",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn many_stars_on_a_long_name_stay_fast() {
        let pattern = format!("/{}b", "*a".repeat(50));
        let name = format!("/{}", "a".repeat(5000));
        let started = std::time::Instant::now();
        assert!(!m(&pattern, &[], &name));
        assert!(started.elapsed().as_secs() < 2);
    }
}
