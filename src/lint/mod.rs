//! `safemig lint`: checks of the files around the app that decide whether it stops cleanly
//! and starts after its database.

pub mod compose;
mod depends;
mod entrypoint;
mod grace;
mod yaml;
