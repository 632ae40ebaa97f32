//! Advice: the `next:` line, as commands someone will paste at 3 a.m.
//!
//! A suggested command is only useful if it runs as printed on the database the person is
//! looking at. Written as text, commands lost the target: after `deploy --env staging` the
//! hint said `safemig resolve --applied NAME`, which, pasted in a Prisma project, wrote to
//! the database `.env` names. So advice is data: an [`Advice`] is prose with commands in it
//! ([`Piece::Command`], the arguments after `safemig`), and only [`Advice::render`] turns it
//! into text, appending the [`Target`] the command that printed it was given (`--env`,
//! `--tenant`, `--config`, `--dir`, `--schema`, `--url`). Tests run the rendered commands.

use std::fmt::Write;

use crate::text::shell_arg;

/// Prose with commands in it. Build it with [`Advice::text`], [`Advice::run`] and
/// [`Advice::run_untargeted`]; print it with [`Advice::render`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advice {
    pieces: Vec<Piece>,
}

/// A part of an [`Advice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `safemig` and these arguments, followed by the target's flags.
    Command(Vec<String>),
    /// `safemig` and these arguments only: a command that works on no database (`split`,
    /// `lint`) or whose arguments already name one.
    Untargeted(Vec<String>),
}

impl Advice {
    /// Advice that starts with `text`.
    pub fn text(text: impl Into<String>) -> Advice {
        Advice::default().then(text)
    }

    /// Advice that starts with the command `safemig ARGS` on the target.
    pub fn command<S: AsRef<str>>(args: &[S]) -> Advice {
        Advice::default().run(args)
    }

    /// Appends prose.
    pub fn then(mut self, text: impl Into<String>) -> Advice {
        let text = text.into();
        match self.pieces.last_mut() {
            Some(Piece::Text(last)) => last.push_str(&text),
            _ => self.pieces.push(Piece::Text(text)),
        }
        self
    }

    /// Appends the command `safemig ARGS` on the target.
    pub fn run<S: AsRef<str>>(mut self, args: &[S]) -> Advice {
        self.pieces.push(Piece::Command(owned(args)));
        self
    }

    /// Appends the command `safemig ARGS`, without the target's flags.
    pub fn run_untargeted<S: AsRef<str>>(mut self, args: &[S]) -> Advice {
        self.pieces.push(Piece::Untargeted(owned(args)));
        self
    }

    /// Appends another advice.
    pub fn and(mut self, other: Advice) -> Advice {
        for piece in other.pieces {
            self = match piece {
                Piece::Text(text) => self.then(text),
                piece => {
                    self.pieces.push(piece);
                    self
                }
            };
        }
        self
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The commands this advice suggests, each as it is printed for `target`.
    pub fn commands(&self, target: &Target) -> Vec<String> {
        self.pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Text(_) => None,
                Piece::Command(args) => Some(target.command(args)),
                Piece::Untargeted(args) => Some(Target::default().command(args)),
            })
            .collect()
    }

    /// The advice as printed, each command in backticks and on `target`; when the target
    /// stands for a value the person must supply (a URL given with its password), a
    /// sentence saying so follows.
    pub fn render(&self, target: &Target) -> String {
        let mut out = String::new();
        let mut targeted = false;
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Command(args) => {
                    targeted = true;
                    let _ = write!(out, "`{}`", target.command(args));
                }
                Piece::Untargeted(args) => {
                    let _ = write!(out, "`{}`", Target::default().command(args));
                }
            }
        }
        if let (true, Some(caveat)) = (targeted, &target.caveat) {
            let _ = write!(out, " ({caveat})");
        }
        out
    }
}

fn owned<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    args.iter().map(|a| a.as_ref().to_string()).collect()
}

/// How the person selected the database, so that every suggested command selects the same
/// one: the flags, in the order they are appended, already written for a shell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    flags: Vec<String>,
    /// What the person must know for the flags to work, e.g. which variable must hold the
    /// URL they passed.
    caveat: Option<String>,
}

impl Target {
    /// `--env NAME`.
    pub fn env(mut self, name: &str) -> Target {
        self.push("--env", name);
        self
    }

    /// `--tenant NAME`.
    pub fn tenant(mut self, name: &str) -> Target {
        self.push("--tenant", name);
        self
    }

    /// A flag and its value as given (`--config`, `--dir`, `--schema`).
    pub fn flag(mut self, flag: &str, value: &str) -> Target {
        self.push(flag, value);
        self
    }

    /// `--url URL`, as the person most likely typed it: `"$VAR"` when one of `variables`
    /// (name, value) holds this URL (`DATABASE_URL` first, then by name). Otherwise a URL
    /// without a password is printed as it is, and one with a password never is: it is
    /// shown as `"$DATABASE_URL"`, with a sentence saying to set it to the URL passed.
    pub fn url(
        mut self,
        raw: &str,
        variables: impl IntoIterator<Item = (String, String)>,
    ) -> Target {
        let held_by = variables
            .into_iter()
            .filter(|(name, value)| value == raw && is_plain_variable(name))
            .map(|(name, _)| name)
            .min_by_key(|name| (name != "DATABASE_URL", name.clone()));
        let variable = match held_by {
            Some(name) => name,
            None if !has_password(raw) => {
                self.push("--url", raw);
                return self;
            }
            None => {
                self.caveat = Some(
                    "DATABASE_URL stands for the URL you passed with --url: safemig does not print passwords".into(),
                );
                "DATABASE_URL".into()
            }
        };
        self.flags.push("--url".into());
        self.flags.push(format!("\"${variable}\""));
        self
    }

    /// These flags followed by `other`'s.
    pub fn and(mut self, other: Target) -> Target {
        self.flags.extend(other.flags);
        self.caveat = self.caveat.or(other.caveat);
        self
    }

    /// Whether `flag` is among the flags.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Whether any flag selects the database (an empty target means the project's own,
    /// found from the working directory).
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// `safemig ARGS FLAGS`, every word quoted for a shell as needed.
    pub fn command<S: AsRef<str>>(&self, args: &[S]) -> String {
        let mut out = String::from("safemig");
        for arg in args {
            out.push(' ');
            out.push_str(&shell_arg(arg.as_ref()));
        }
        for flag in &self.flags {
            out.push(' ');
            out.push_str(flag);
        }
        out
    }

    fn push(&mut self, flag: &str, value: &str) {
        self.flags.push(flag.to_string());
        self.flags.push(shell_arg(value));
    }
}

/// Whether a URL carries a password (`scheme://user:password@host`, or a `password=`
/// parameter).
fn has_password(raw: &str) -> bool {
    crate::redact::redact(raw) != raw
}

/// A variable name a shell expands in `"$NAME"` without surprises.
fn is_plain_variable(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_carry_the_target() {
        let advice = Advice::text("run ")
            .run(&["repair", "20240101_init"])
            .then(" to see the evidence, or ")
            .run_untargeted(&["split", "a b.sql"]);
        let target = Target::default().env("staging").tenant("t 3");
        assert_eq!(
            advice.render(&target),
            "run `safemig repair 20240101_init --env staging --tenant 't 3'` to see the evidence, or `safemig split 'a b.sql'`"
        );
        assert_eq!(
            advice.render(&Target::default()),
            "run `safemig repair 20240101_init` to see the evidence, or `safemig split 'a b.sql'`"
        );
        assert_eq!(advice.commands(&target).len(), 2);
    }

    #[test]
    fn a_password_is_shown_as_the_variable_that_holds_it() {
        let url = "postgresql://app:s3cret@db:5432/app";
        let vars = || {
            vec![
                ("PROD_URL".to_string(), url.to_string()),
                ("OTHER".to_string(), "x".to_string()),
            ]
        };
        let target = Target::default().url(url, vars());
        assert_eq!(
            target.command(&["deploy"]),
            "safemig deploy --url \"$PROD_URL\""
        );
        let advice = Advice::command(&["deploy"]);
        assert!(!advice.render(&target).contains("s3cret"));

        let unknown = Target::default().url(url, Vec::new());
        let rendered = advice.render(&unknown);
        assert!(
            rendered
                .starts_with("`safemig deploy --url \"$DATABASE_URL\"` (DATABASE_URL stands for"),
            "{rendered}"
        );
        assert!(!rendered.contains("s3cret"));

        let plain = Target::default().url("file:./dev.db", Vec::new());
        assert_eq!(
            plain.command(&["status"]),
            "safemig status --url file:./dev.db"
        );
    }
}
