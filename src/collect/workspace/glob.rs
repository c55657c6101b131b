//! The globs of `--hash`: `*` (any run of characters within one path component), `?` (one
//! character), `**` (a whole component: any number of directories). Everything else is
//! literal. As in a shell, a wildcard never matches a name's leading `.`: hidden files and
//! directories are matched only by a component that starts with `.` itself.

/// One `/`-separated component of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// No wildcard: this exact name.
    Literal(String),
    /// `*` and `?` within one name.
    Wild(String),
    /// `**`: zero or more directories.
    AnyDirs,
}

/// A parsed pattern: where the walk starts (the components before the first wildcard) and the
/// components to match below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The literal leading part, e.g. `/workspace/out` of `/workspace/out/**/*.tgz`; empty for
    /// a relative pattern that starts with a wildcard.
    pub base: String,
    /// What follows the base; empty when the whole pattern is literal.
    pub rest: Vec<Component>,
}

/// Patterns longer than this, or with more components, are refused.
pub const MAX_PATTERN_LEN: usize = 4096;
pub const MAX_COMPONENTS: usize = 64;

impl Glob {
    /// Parses a pattern. Empty patterns, empty components (`a//b`), `.` and `..` components
    /// and `**` mixed with other characters (`a**b`) are refused.
    pub fn parse(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty pattern".into());
        }
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(format!("longer than {MAX_PATTERN_LEN} bytes"));
        }
        if pattern.contains('\0') {
            return Err("contains a NUL character".into());
        }
        let absolute = pattern.starts_with('/');
        let parts: Vec<&str> = pattern
            .strip_prefix('/')
            .unwrap_or(pattern)
            .split('/')
            .collect();
        if parts.len() > MAX_COMPONENTS {
            return Err(format!("more than {MAX_COMPONENTS} path components"));
        }
        let mut base: Vec<&str> = Vec::new();
        let mut rest = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if part.is_empty() {
                if last && i > 0 {
                    return Err("ends with '/': name files, or DIR/** for every file in DIR".into());
                }
                return Err("has an empty path component".into());
            }
            if *part == "." || *part == ".." {
                return Err(format!("has a {part:?} component"));
            }
            let component = if *part == "**" {
                Component::AnyDirs
            } else if part.contains("**") {
                return Err(format!(
                    "component {part:?}: ** must be a whole component (a/**/b)"
                ));
            } else if part.contains(['*', '?']) {
                Component::Wild((*part).to_owned())
            } else {
                Component::Literal((*part).to_owned())
            };
            match component {
                Component::Literal(_) if rest.is_empty() => base.push(part),
                c => rest.push(c),
            }
        }
        let mut base = base.join("/");
        if absolute {
            base.insert(0, '/');
        }
        Ok(Glob { base, rest })
    }

    /// Whether a `/`-separated path (as the walk names it: the base, then the names below it)
    /// matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        let rel = if self.base.is_empty() {
            Some(path)
        } else if self.base.ends_with('/') {
            path.strip_prefix(self.base.as_str())
        } else {
            path.strip_prefix(self.base.as_str()).and_then(|r| {
                if r.is_empty() {
                    Some(r)
                } else {
                    r.strip_prefix('/')
                }
            })
        };
        match rel {
            Some(rel) if self.rest.is_empty() => rel.is_empty(),
            Some(rel) => !rel.is_empty() && path_matches(&self.rest, rel),
            None => false,
        }
    }
}

/// Whether one component pattern (`*` and `?`, no `/`) matches one name. A leading `.` in the
/// name must be matched by a literal `.`.
pub fn component_matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Greedy match with backtracking to the last `*`: linear in practice, never exponential.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == n[ni])) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn one_matches(c: &Component, name: &str) -> bool {
    match c {
        Component::Literal(l) => l == name,
        Component::Wild(w) => component_matches(w, name),
        Component::AnyDirs => !name.starts_with('.'),
    }
}

/// Whether a `/`-separated path (relative to the glob's base) matches the components: what the
/// walk finds, stated as a predicate. `**` matches zero or more non-hidden components.
pub fn path_matches(rest: &[Component], path: &str) -> bool {
    let names: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    // ok[j] after row i: the first i components match the first j names.
    let mut ok = vec![false; names.len() + 1];
    ok[0] = true;
    for c in rest {
        let mut next = vec![false; names.len() + 1];
        for j in 0..=names.len() {
            next[j] = match c {
                Component::AnyDirs => {
                    ok[j] || (j > 0 && next[j - 1] && one_matches(c, names[j - 1]))
                }
                _ => j > 0 && ok[j - 1] && one_matches(c, names[j - 1]),
            };
        }
        ok = next;
    }
    ok[names.len()]
}

/// Whether a directory name may hold matches of `rest` (used to prune the walk): the walk
/// descends into a directory only when some component could consume it.
pub(super) fn step<'a>(rest: &'a [Component], name: &str) -> Vec<&'a [Component]> {
    let mut out = Vec::new();
    match rest.first() {
        None => {}
        Some(Component::AnyDirs) => {
            // `**` consumes the directory and stays, or matches nothing and the next one
            // must take it.
            if !name.starts_with('.') {
                out.push(rest);
            }
            out.extend(step(&rest[1..], name));
        }
        Some(c) if one_matches(c, name) => out.push(&rest[1..]),
        Some(_) => {}
    }
    out
}

/// Whether a file name ends a match of `rest`.
pub(super) fn ends(rest: &[Component], name: &str) -> bool {
    match rest {
        [] => false,
        [Component::AnyDirs] => !name.starts_with('.'),
        [Component::AnyDirs, tail @ ..] => ends(tail, name),
        [c] => one_matches(c, name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(path)
    }

    #[test]
    fn parse_splits_base_and_rest() {
        let g = Glob::parse("/workspace/out/**/*.tgz").unwrap();
        assert_eq!(g.base, "/workspace/out");
        assert_eq!(
            g.rest,
            [Component::AnyDirs, Component::Wild("*.tgz".into())]
        );
        assert_eq!(Glob::parse("a/b").unwrap().rest, []);
        assert!(Glob::parse("a//b").is_err());
        assert!(Glob::parse("a/../b").is_err());
        assert!(Glob::parse("a/x**").is_err());
        assert!(Glob::parse("dist/").is_err());
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(component_matches("*.tgz", "app.tgz"));
        assert!(!component_matches("*.tgz", "app.tgz.sig"));
        assert!(component_matches("a?c", "abc"));
        assert!(!component_matches("a?c", "ac"));
        assert!(component_matches("*a*b*", "xaybz"));
        assert!(!component_matches("*", ".hidden"));
        assert!(component_matches(".*", ".hidden"));
    }

    #[test]
    fn double_star_spans_directories_but_not_hidden_ones() {
        assert!(m("**/*.tgz", "a.tgz"));
        assert!(m("**/*.tgz", "x/y/a.tgz"));
        assert!(!m("**/*.tgz", "x/.git/a.tgz"));
        assert!(m("x/**", "x/y/z"));
        assert!(!m("x/**", "xy/z"));
        assert!(m("/*", "/etc"));
        assert!(m("a/b", "a/b"));
        assert!(m("a/**/b/**/c", "a/b/c"));
        assert!(m("a/**/b/**/c", "a/q/b/r/s/c"));
        assert!(!m("a/**/b", "a/q/c"));
    }
}
