//! Text for people: names from the file system made safe to print, plurals, sizes.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// A name or path as it may be printed to a terminal or a log: control characters (a
/// newline in a folder name, an escape sequence) appear escaped (`\n`, `\u{1b}`), so a
/// folder name can neither break a table or a log line apart nor drive the terminal.
pub struct Escaped<'a>(pub Cow<'a, str>);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A number of seconds as operators write it in flags and variables: `10`, `2.5`, `30s`.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is not a valid duration"))
}

/// `text`, escaped for printing.
pub fn escaped(text: &str) -> Escaped<'_> {
    Escaped(Cow::Borrowed(text))
}

/// A path, escaped for printing (invalid UTF-8 shown as U+FFFD).
pub fn path(path: &Path) -> Escaped<'_> {
    Escaped(path.to_string_lossy())
}

/// Control characters other than line breaks and tabs escaped: for whole messages whose
/// line structure is intended but whose parts may come from outside.
pub fn without_control_sequences(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A word as it must be typed in a shell command line that a message suggests: as is
/// when it is plain, else in single quotes, else (with control characters) in `$'…'`.
pub fn shell_arg(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,/:@%+=".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else if !word.chars().any(char::is_control) {
        format!("'{}'", word.replace('\'', r"'\''"))
    } else {
        let escaped: String = word
            .chars()
            .map(|c| match c {
                '\'' => r"\'".to_string(),
                '\\' => r"\\".to_string(),
                c if c.is_control() => format!("\\x{:02x}", c as u32),
                c => c.to_string(),
            })
            .collect();
        format!("$'{escaped}'")
    }
}

/// `"1 migration"`, `"2 migrations"`, `"3 canaries"`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        return format!("1 {noun}");
    }
    let consonant_y = noun.strip_suffix('y').filter(|stem| {
        stem.chars()
            .last()
            .is_some_and(|c| !"aeiou".contains(c.to_ascii_lowercase()))
    });
    match consonant_y {
        Some(stem) => format!("{n} {stem}ies"),
        None => format!("{n} {noun}s"),
    }
}

/// A byte count for messages: `1.5 GiB`, `20.0 MiB`, `512 bytes`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escaped("20240101_a\nb\u{1b}[31m").to_string(),
            "20240101_a\\nb\\u{1b}[31m"
        );
        assert_eq!(escaped("données ✓").to_string(), "données ✓");
        assert_eq!(
            without_control_sequences("line 1\n\tline\u{7} 2"),
            "line 1\n\tline\\u{7} 2"
        );
    }

    #[test]
    fn shell_arguments() {
        assert_eq!(shell_arg("20240101_init"), "20240101_init");
        assert_eq!(
            shell_arg("2024-01-01 with space"),
            "'2024-01-01 with space'"
        );
        assert_eq!(shell_arg("it's"), r"'it'\''s'");
        assert_eq!(shell_arg("a\nb"), r"$'a\x0ab'");
    }

    #[test]
    fn counts_and_sizes() {
        assert_eq!(count(3, "canary"), "3 canaries");
        assert_eq!(count(2, "key"), "2 keys");
        assert_eq!(count(1, "canary"), "1 canary");
        assert_eq!(count(1, "migration"), "1 migration");
        assert_eq!(count(0, "statement"), "0 statements");
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(20 << 20), "20.0 MiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
    }
}
