//! Running the lab's helper commands (`ip`, `nft`) with errors that say
//! what was run and what it printed.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

/// Runs `program args…` and fails unless it exits with status 0.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<Output> {
    run_with_stdin(program, args, None)
}

/// Like [`run`], feeding `stdin` to the program (for `nft -f -`).
pub(crate) fn run_with_stdin(program: &str, args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().with_context(|| {
        format!("cannot start `{program}` (is it installed? see scripts/install-deps.sh)")
    })?;
    if let Some(text) = stdin {
        // Taking stdin closes it once written, so the program sees EOF.
        let mut pipe = child.stdin.take().context("child stdin")?;
        pipe.write_all(text.as_bytes())
            .with_context(|| format!("writing to `{program}`"))?;
    }
    let output = child
        .wait_with_output()
        .with_context(|| format!("waiting for `{program}`"))?;
    if !output.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            stdin.map(|s| format!("\ninput:\n{s}")).unwrap_or_default(),
        );
    }
    Ok(output)
}
