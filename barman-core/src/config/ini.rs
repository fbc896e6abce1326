//! Reading INI files the way Python's `ConfigParser(strict=False)` does for Barman.
//!
//! Several files (the main file, `configuration_files_directory/*.conf`, `.barman.auto.conf`) are
//! merged into one [`IniDocument`]: a section that appears again is merged into the first one,
//! a key set again overrides the earlier value, keys are case-insensitive, and every value
//! remembers the file it came from so messages can name it.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// The `[DEFAULT]` section: its keys are visible from every other section.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// One `key = value` line, after merging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lower-cased key.
    pub key: String,
    /// The raw value, before interpolation and quote stripping.
    pub value: String,
    /// The file that set this value last.
    pub source: PathBuf,
}

/// A section with its merged entries, in first-appearance order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The section name, as written (section names are case-sensitive).
    pub name: String,
    /// Its entries after merging.
    pub entries: Vec<Entry>,
}

impl Section {
    /// The entry for `key` (already lower case).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn set(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }
}

/// The merged content of every configuration file read so far.
#[derive(Debug, Clone, Default)]
pub struct IniDocument {
    sections: Vec<Section>,
}

impl IniDocument {
    /// Reads `path` and merges it into the document.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        self.merge_str(&text, path)
    }

    /// Parses `text` (read from `source`) and merges it into the document.
    pub fn merge_str(&mut self, text: &str, source: &Path) -> Result<(), ConfigError> {
        let options = ini::ParseOption {
            // Barman strips one pair of matching quotes itself, after interpolation; backslashes
            // are literal in ConfigParser; indented lines continue the previous value.
            enabled_quote: false,
            enabled_escape: false,
            enabled_indented_mutiline_value: true,
            enabled_preserve_key_leading_whitespace: false,
        };
        let parsed = ini::Ini::load_from_str_opt(text, options).map_err(|e| ConfigError::Syntax {
            path: source.to_path_buf(),
            line: e.line + 1,
            message: e.msg.to_string(),
        })?;
        for (name, properties) in parsed.iter() {
            let Some(name) = name else {
                if properties.is_empty() {
                    continue;
                }
                return Err(ConfigError::Syntax {
                    path: source.to_path_buf(),
                    line: 1,
                    message: "options appear before the first [section] header".into(),
                });
            };
            let section = self.section_mut(name);
            for (key, value) in properties.iter() {
                section.set(Entry {
                    key: key.trim().to_ascii_lowercase(),
                    value: value.to_string(),
                    source: source.to_path_buf(),
                });
            }
        }
        Ok(())
    }

    fn section_mut(&mut self, name: &str) -> &mut Section {
        let index = match self.sections.iter().position(|s| s.name == name) {
            Some(index) => index,
            None => {
                self.sections.push(Section {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                self.sections.len() - 1
            }
        };
        &mut self.sections[index]
    }

    /// The section called `name`, if any file defined it.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Every section except `[DEFAULT]`, in first-appearance order.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| s.name != DEFAULT_SECTION)
    }

    /// The entry for `key` in `section`, falling back to `[DEFAULT]` as ConfigParser does.
    pub fn lookup(&self, section: &str, key: &str) -> Option<&Entry> {
        self.section(section)?
            .get(key)
            .or_else(|| self.section(DEFAULT_SECTION).and_then(|d| d.get(key)))
    }

    /// The keys visible in `section`: its own, then the `[DEFAULT]` ones it does not override.
    pub fn visible_entries<'a>(&'a self, section: &'a Section) -> impl Iterator<Item = &'a Entry> + 'a {
        let defaults = self.section(DEFAULT_SECTION).into_iter().flat_map(|d| d.entries.iter());
        section
            .entries
            .iter()
            .chain(defaults.filter(move |e| section.get(&e.key).is_none()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(files: &[(&str, &str)]) -> IniDocument {
        let mut doc = IniDocument::default();
        for (name, text) in files {
            doc.merge_str(text, Path::new(name)).unwrap();
        }
        doc
    }

    #[test]
    fn sections_merge_and_later_values_win_with_their_source() {
        let doc = doc(&[
            (
                "a.conf",
                "[pg]\nConninfo = host=a\ndescription: first\n[pg]\nactive = off\n",
            ),
            ("b.conf", "[pg]\nconninfo=host=b\n"),
        ]);
        let pg = doc.section("pg").unwrap();
        let keys: Vec<_> = pg.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["conninfo", "description", "active"]);
        assert_eq!(pg.get("conninfo").unwrap().value, "host=b");
        assert_eq!(pg.get("conninfo").unwrap().source, Path::new("b.conf"));
        assert_eq!(pg.get("description").unwrap().value, "first");
    }

    #[test]
    fn values_keep_quotes_backslashes_and_hash_signs_and_continue_on_indented_lines() {
        let doc = doc(&[(
            "a.conf",
            "; comment\n# comment\n[pg]\ndescription = \"quoted\"\npath = C:\\x # not a comment\nmulti = one\n  two\n",
        )]);
        let pg = doc.section("pg").unwrap();
        assert_eq!(pg.get("description").unwrap().value, "\"quoted\"");
        assert_eq!(pg.get("path").unwrap().value, "C:\\x # not a comment");
        assert_eq!(pg.get("multi").unwrap().value, "one\ntwo");
    }

    #[test]
    fn default_section_is_visible_from_every_section() {
        let doc = doc(&[("a.conf", "[DEFAULT]\nroot = /srv\n[pg]\nx = 1\n")]);
        assert_eq!(doc.lookup("pg", "root").unwrap().value, "/srv");
        assert_eq!(doc.sections().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["pg"]);
        let pg = doc.section("pg").unwrap();
        assert_eq!(doc.visible_entries(pg).count(), 2);
    }

    #[test]
    fn syntax_errors_name_the_file_and_line() {
        let mut doc = IniDocument::default();
        let err = doc
            .merge_str("[barman]\nbarman_home = /x\n[broken\n", Path::new("bad.conf"))
            .unwrap_err();
        assert!(err.to_string().contains("bad.conf"), "{err}");
        let err = doc
            .merge_str("orphan = 1\n[barman]\n", Path::new("orphan.conf"))
            .unwrap_err();
        assert!(err.to_string().contains("before the first [section]"), "{err}");
    }
}
