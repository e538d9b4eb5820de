//! `daprgen new`: a new service from the embedded template, through cargo-generate's library.

use std::path::PathBuf;

use anyhow::Context;
use cargo_generate::{GenerateArgs, TemplatePath, Vcs};

use crate::template;

/// What `daprgen new` was asked for.
#[derive(Debug, Clone)]
pub struct NewService {
    /// The service (and project directory) name.
    pub name: String,
    /// Template values, `KEY=VALUE`, as `cargo generate --define` takes them.
    pub defines: Vec<String>,
    /// The directory to create the service in (default: the current one).
    pub destination: Option<PathBuf>,
}

/// Renders the template. Returns the directory of the new service.
pub fn run(request: NewService) -> anyhow::Result<PathBuf> {
    let scratch = tempfile::TempDir::with_prefix("daprgen-template-")?;
    template::extract_to(scratch.path())?;
    // cargo-generate reads the author from $USER; CI and containers may not set it.
    if std::env::var_os("USER").is_none() {
        // SAFETY: set once, before any thread that reads the environment is started.
        unsafe { std::env::set_var("USER", "daprgen") };
    }
    let args = GenerateArgs {
        template_path: TemplatePath {
            path: Some(scratch.path().to_string_lossy().into_owned()),
            ..TemplatePath::default()
        },
        name: Some(request.name.clone()),
        silent: true,
        define: request.defines,
        destination: request.destination,
        vcs: Some(Vcs::None),
        // A service is a workspace of its own, never a member of the one it is created in.
        no_workspace: true,
        ..GenerateArgs::default()
    };
    cargo_generate::generate(args).with_context(|| format!("generating service {:?}", request.name))
}
