//! How deploy shows a statement that runs long ([`StillRunning`]), on stderr beside its
//! other progress: on a terminal one progress bar, redrawn in place; in a pipe (a
//! container's log) one line each time deploy reports, every few seconds.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use safemig::deploy::StillRunning;
use safemig::text::escaped;

use super::output::{for_people, stderr_line};

const WITH_PERCENT: &str = "{spinner} Running {msg} [{bar:20}] {percent:>3}% ({elapsed})";
const WITHOUT: &str = "{spinner} Running {msg} ({elapsed})";

/// The bar of the statement running now, on a terminal.
#[derive(Default)]
pub struct LongStatement {
    bar: Option<ProgressBar>,
}

impl LongStatement {
    pub fn show(&mut self, running: &StillRunning<'_>) {
        if !std::io::stderr().is_terminal() {
            stderr_line(&line(running));
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar =
                ProgressBar::with_draw_target(Some(100), indicatif::ProgressDrawTarget::stderr())
                    .with_elapsed(running.elapsed);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let percent = running.progress.as_ref().and_then(|p| p.percent);
        let template = if percent.is_some() {
            WITH_PERCENT
        } else {
            WITHOUT
        };
        bar.set_style(ProgressStyle::with_template(template).expect("a valid template"));
        bar.set_position(percent.map_or(0, |p| p.clamp(0.0, 100.0) as u64));
        bar.set_message(for_people(&what(running, false)));
    }

    /// Takes the bar away before deploy prints its next line.
    pub fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// "statement 3 of 7 of `20240102000000_index` (line 12): CREATE INDEX: building index:
/// scanning table (42 %), about 20 s left", the percentage only when asked for (a bar
/// shows its own).
fn what(running: &StillRunning<'_>, with_percent: bool) -> String {
    let mut text = match running.statement {
        Some(at) => format!(
            "statement {} of {} of `{}` (line {})",
            at.number,
            at.total,
            escaped(running.migration),
            at.line
        ),
        None => format!("`{}`", escaped(running.migration)),
    };
    if let Some(progress) = &running.progress {
        text.push_str(&format!(": {}", progress.phase));
        if let Some(percent) = progress.percent.filter(|_| with_percent) {
            text.push_str(&format!(" ({percent:.0} %)"));
        }
    }
    if let Some(left) = running.left {
        text.push_str(&format!(", about {} s left", left.as_secs()));
    }
    text
}

/// The line for a pipe.
pub fn line(running: &StillRunning<'_>) -> String {
    format!(
        "Still running after {} s: {}",
        running.elapsed.as_secs(),
        what(running, true)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_templates_are_valid() {
        for template in [WITH_PERCENT, WITHOUT] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}
