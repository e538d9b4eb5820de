//! `daprgen`: scaffolds Kratos-style Rust microservices on a Dapr sidecar. See [`daprgen::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let colors = daprgen::output::colors_on_stdout();
    let code = daprgen::cli::run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        colors,
    );
    ExitCode::from(code)
}
