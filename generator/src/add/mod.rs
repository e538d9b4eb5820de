//! `daprgen add …`: day-2 additions to a service made by `daprgen new`.
//!
//! Every command works the same way: it checks its input (bad input writes nothing), renders its
//! Handlebars templates ([`templates`]) into a [`engine::Plan`] of new files and insertions at
//! the anchors the template put into existing files, then [`engine::apply`]s the plan all at
//! once, or prints it as a diff with `--dry-run`. Running a command twice changes nothing.

pub mod component;
pub mod consumer;
pub mod engine;
pub mod entity;
pub mod names;
pub(crate) mod rustfmt;
pub mod saga;
pub mod service;
pub mod templates;
