//! `safemig lint`: checks of the files around the app that decide whether it stops cleanly
//!.

pub mod compose;
mod entrypoint;
mod grace;
mod yaml;
