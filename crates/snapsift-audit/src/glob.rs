//! The path patterns checks name: absolute paths whose segments may hold `*` (any run of
//! characters within a segment, dot files included) and `?` (one character), a `**` segment
//! (any number of segments, none included), and a leading `~/` (every home directory: see
//! [`Homes`]).
//!
//! Matching is by segments, with a table of reachable positions: linear in the pattern's
//! segments times the path's, whatever the path (no backtracking blow-up on hostile names).
//! A `~/` pattern is matched against what is left of a path below each of its prefixes that
//! is a home: a home taken from an image's `/etc/passwd` is looked up as it is, so a `*` in
//! an attacker's home field matches only a `*`.

use std::collections::HashSet;

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

/// The segments of a pattern, ready to match paths.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PathMatcher {
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

    /// Whether it starts with `~/`.
    pub fn under_home(&self) -> bool {
        self.home
    }
}

/// The home directories of a filesystem: those `/etc/passwd` names and `/root`, and any
/// `/home/NAME` (a home left behind by a deleted account is a home too). Looked up by
/// prefix, so that a `~/` pattern costs the same for a million accounts as for one.
#[derive(Clone, Debug, Default)]
pub struct Homes {
    /// The homes, without a trailing `/` (`""` for a home of `/`).
    set: HashSet<String>,
    /// `/users/NAME` are homes too (Windows profiles; paths folded to lower case).
    profiles: bool,
}

impl Homes {
    /// `/root`, `/home/*` and `homes` (absolute paths, taken literally; others left out).
    pub fn new<'a>(homes: impl IntoIterator<Item = &'a str>) -> Homes {
        let mut set: HashSet<String> = HashSet::from(["/root".to_owned()]);
        for home in homes {
            if home.starts_with('/') {
                set.insert(home.trim_end_matches('/').to_owned());
            }
        }
        Homes {
            set,
            profiles: false,
        }
    }

    /// The same homes for a case-insensitive filesystem, whose paths are matched folded
    /// ([`fold`]): the homes folded, and every Windows profile (`/Users/NAME`) a home.
    pub fn folded(self) -> Homes {
        Homes {
            set: self.set.iter().map(|h| fold(h)).collect(),
            profiles: true,
        }
    }

    /// What is left of `path` below each home that holds it (`/.ssh/id_rsa`), nearest the
    /// root first.
    pub fn below<'p>(&self, path: &'p str) -> Vec<&'p str> {
        let mut rests = Vec::new();
        for (i, _) in path.match_indices('/') {
            let (prefix, rest) = path.split_at(i);
            let one_below = |dir: &str| {
                prefix
                    .strip_prefix(dir)
                    .is_some_and(|name| !name.is_empty() && !name.contains('/'))
            };
            let in_home_dir = one_below("/home/") || (self.profiles && one_below("/users/"));
            if in_home_dir || self.set.contains(prefix) {
                rests.push(rest);
            }
        }
        rests
    }
}

/// Patterns compiled together: those from the root, those under every home, and exact
/// paths (the files `AuthorizedKeysFile` names for each account: a set, however many).
#[derive(Clone, Debug, Default)]
pub struct PathSet {
    rooted: Vec<PathMatcher>,
    under_home: Vec<PathMatcher>,
    exact: HashSet<String>,
}

impl PathSet {
    /// The set of `patterns`.
    pub fn new(patterns: &[Pattern]) -> PathSet {
        let mut set = PathSet::default();
        for pattern in patterns {
            let matcher = PathMatcher::new(pattern.segments.clone());
            if pattern.home {
                set.under_home.push(matcher);
            } else {
                set.rooted.push(matcher);
            }
        }
        set
    }

    /// Adds the exact path `path` (no wildcards: a `*` in it is a `*`).
    pub fn add_exact(&mut self, path: &str) {
        let normal: Vec<&str> = segments_of(path).collect();
        self.exact.insert(format!("/{}", normal.join("/")));
    }

    /// Whether `path` (absolute) matches a pattern of the set, with `homes` for `~/`.
    pub fn matches(&self, path: &str, homes: &Homes) -> bool {
        self.exact.contains(path)
            || self.rooted.iter().any(|m| m.matches(path))
            || (!self.under_home.is_empty()
                && homes
                    .below(path)
                    .into_iter()
                    .any(|rest| self.under_home.iter().any(|m| m.matches(rest))))
    }
}

/// `text` as a case-insensitive filesystem compares names: in lower case (Unicode's
/// mapping, which NTFS's upcase table follows for the names met in practice). Patterns and
/// paths of such a filesystem are both folded before they are matched.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
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

    /// Whether `path` (absolute) matches.
    fn matches(&self, path: &str) -> bool {
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
        let set = PathSet::new(&[Pattern::parse(pattern).unwrap()]);
        set.matches(path, &Homes::new(homes.iter().copied()))
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
    fn exact_paths_and_a_million_homes() {
        let mut set = PathSet::new(&[Pattern::parse("~/.ssh/authorized_keys").unwrap()]);
        let homes: Vec<String> = (0..1_000_000).map(|i| format!("/srv/u{i}")).collect();
        for home in &homes {
            set.add_exact(&format!("{home}/keys"));
        }
        let homes = Homes::new(homes.iter().map(String::as_str));
        let started = std::time::Instant::now();
        for i in 0..10_000 {
            assert!(set.matches(&format!("/srv/u{i}/.ssh/authorized_keys"), &homes));
            assert!(set.matches(&format!("/srv/u{i}/keys"), &homes));
            assert!(!set.matches(&format!("/srv/v{i}/.ssh/authorized_keys"), &homes));
        }
        assert!(started.elapsed().as_secs() < 5);
    }

    #[test]
    fn folded_homes_take_windows_profiles() {
        let set =
            PathSet::new(&[
                Pattern::parse(&fold("~/AppData/Roaming/Microsoft/Credentials/*")).unwrap(),
            ]);
        let path =
            "/Users/Alice/AppData/Roaming/Microsoft/CREDENTIALS/DFBE70A7E5CC19A398EBF1B96859CE5D";
        assert!(set.matches(&fold(path), &Homes::new([]).folded()));
        assert!(!set.matches(&fold(path), &Homes::new([])));
        assert!(!set.matches(path, &Homes::new([]).folded()));
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
