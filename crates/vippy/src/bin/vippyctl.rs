//! vippyctl: talks to vippyd's management socket. Exit status 0 on
//! success, 1 on any error.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use vippy::cli::{VippyctlArgs as Args, VippyctlCommand as Cmd};
use vippy::client::{self, Client, ClientError};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vippyctl: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vippyctl: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), ClientError> {
    let client = Client::new(args.socket);
    match args.command {
        Cmd::Status { json: true } => {
            let value = client.status_json().await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        Cmd::Status { json: false } => {
            print!("{}", client::render_status(&client.status().await?));
        }
        Cmd::Drain { reason, source } => {
            say(client
                .set_active(false, reason.as_deref(), source.as_deref())
                .await?);
        }
        Cmd::Undrain { source, all: false } => {
            say(client.set_active(true, None, source.as_deref()).await?)
        }
        Cmd::Undrain { all: true, .. } => say(client.undrain_all().await?),
        Cmd::Move { group, node, clear } => {
            let to = if clear { None } else { node.as_deref() };
            say(client.move_group(&group, to).await?)
        }
        Cmd::Reload => say(client.reload().await?),
        Cmd::Metrics => print!("{}", client.metrics().await?),
        Cmd::Watch { json } => {
            let mut events = client.events().await?;
            let mut stdout = std::io::stdout().lock();
            loop {
                let line = if json {
                    events.next_line().await?
                } else {
                    events
                        .next_event()
                        .await?
                        .map(|event| client::render_event(&event))
                };
                let Some(line) = line else {
                    return Err(ClientError::StreamEnded {
                        path: client.socket().to_owned(),
                    });
                };
                // A closed stdout (`vippyctl watch | head`) ends quietly.
                if writeln!(stdout, "{line}")
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

fn say(message: String) {
    if message.is_empty() {
        println!("ok");
    } else {
        println!("{message}");
    }
}
