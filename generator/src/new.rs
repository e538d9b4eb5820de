//! `daprgen new`: a new service from the embedded template, through cargo-generate's library.

use std::path::PathBuf;

use anyhow::Context;
use cargo_generate::{GenerateArgs, TemplatePath, Vcs};

use crate::add::rustfmt;
use crate::{input, template};

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
///
/// Bad input writes nothing: the name and the `--define`s are checked first, and if the
/// template's own hook refuses them after cargo-generate has created the service's directory,
/// that directory is removed again.
pub fn run(request: NewService) -> anyhow::Result<PathBuf> {
    input::check_service_name(&request.name)?;
    input::check_defines(&request.defines, template::config())?;
    let parent = match &request.destination {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("finding the current directory")?,
    };
    // The name is one plain path component that cargo-generate keeps as given (checked above).
    let service_dir = parent.join(&request.name);
    let existed = service_dir.symlink_metadata().is_ok();
    let result = generate(request);
    if result.is_err() && !existed && service_dir.symlink_metadata().is_ok() {
        // Best effort: the error being reported matters more than one about cleaning up.
        let _ = std::fs::remove_dir_all(&service_dir);
    }
    result
}

fn generate(request: NewService) -> anyhow::Result<PathBuf> {
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
        // Formatted below as cargo-generate would format it, but over all the cores.
        no_fmt: true,
        ..GenerateArgs::default()
    };
    let dir = cargo_generate::generate(args).map_err(|error| {
        let text = format!("{error:#}");
        match input::hook_message(&text) {
            // The template's hook refused the input: its message says what and how to fix it.
            Some(message) => crate::error::bad_input(message),
            None => error.context(format!("generating service {:?}", request.name)),
        }
    })?;
    std::thread::scope(|scope| {
        // The extracted template is no longer needed: removed while rustfmt runs.
        scope.spawn(move || drop(scratch));
        if template::formatted() {
            // Like cargo-generate: an unformatted service is still a service.
            if let Err(failure) = rustfmt::format_generated(&dir) {
                eprintln!("daprgen: warning: could not format the generated files: {failure}");
            }
        }
    });
    Ok(dir)
}
